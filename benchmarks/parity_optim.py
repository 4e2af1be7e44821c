"""Parity of tinytorch.core.optimizers with torch.optim: the same model, data and gradients give the same trajectory.

Run it from the repository root with the project's venv (PyTorch comes from the `bench` extra):

    python benchmarks/parity_optim.py           # about 5 seconds

For SGD (momentum 0.9, weight decay 1e-2), Adam (weight decay 1e-2, an L2 penalty) and AdamW (decoupled weight
decay 1e-2), it builds the deck's MLP, Sequential(Linear(784, 256), ReLU(), Linear(256, 10)), copies its float32
weights into the same torch.nn.Sequential (TinyTorch stores W as (in, out), PyTorch as (out, in)) and trains both for
25 steps with cross-entropy on a fixed batch of 64, in two ways:

- same gradients: tinytorch's autograd computes each step's gradients on the tinytorch model, and the very same arrays
  become the torch parameters' .grad. Any difference is the optimizers' own arithmetic; the exit status is non-zero
  if the largest difference of any parameter, relative to that parameter's largest entry, exceeds 1e-5.
- end to end: each library computes its own gradients on its own model, so the float32 differences of forward and
  backward (about 1e-7 relative, benchmarks/parity_autograd.py) feed into the trajectories too. Printed, not bounded:
  Adam divides by the root of tiny second moments, where the two gradients may differ in their last bits.
"""

from __future__ import annotations

import sys

import numpy as np

import tinytorch.core.autograd  # noqa: F401  installs backward() and .grad
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

STEPS = 25
BATCH = 64
RELATIVE_BOUND = 1e-5
OPTIMIZERS = {
    "SGD": (SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-2}),
    "Adam": (Adam, {"lr": 1e-3, "weight_decay": 1e-2}),
    "AdamW": (AdamW, {"lr": 1e-3, "weight_decay": 1e-2}),
}


def deck_mlp_pair(torch, seed: int):
    """The deck's MLP in tinytorch and the torch.nn.Sequential with the same weights."""
    np.random.seed(seed)
    model = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))
    twin = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), twin.parameters(), strict=True):
            theirs.copy_(torch.from_numpy(ours.data.T.copy()))  # (in, out) -> (out, in); a bias is its own transpose
    return model, twin


def torch_view(torch, array: np.ndarray):
    """A tinytorch parameter's or gradient's array in PyTorch's layout."""
    return torch.from_numpy(np.ascontiguousarray(array.T))


def largest_relative_difference(model, twin) -> float:
    """max over parameters of max |ours - theirs| / max |theirs|."""
    worst = 0.0
    for ours, theirs in zip(model.parameters(), twin.parameters(), strict=True):
        theirs = theirs.detach().numpy().T
        worst = max(worst, float(np.abs(ours.data - theirs).max() / np.abs(theirs).max()))
    return worst


def train_both(torch, name: str, same_gradients: bool, x: np.ndarray, targets: np.ndarray) -> float:
    """Largest relative parameter difference over STEPS steps of optimizer `name` in both libraries."""
    model, twin = deck_mlp_pair(torch, seed=0)
    optimizer, options = OPTIMIZERS[name]
    ours, theirs = optimizer(model.parameters(), **options), getattr(torch.optim, name)(twin.parameters(), **options)
    x_torch, targets_torch = torch.from_numpy(x), torch.from_numpy(targets)
    worst = 0.0
    for _ in range(STEPS):
        ours.zero_grad()
        theirs.zero_grad()
        CrossEntropyLoss()(model(Tensor(x)), targets).backward()
        if same_gradients:
            for p, q in zip(model.parameters(), twin.parameters(), strict=True):
                q.grad = torch_view(torch, p.grad.data).clone()
        else:
            torch.nn.functional.cross_entropy(twin(x_torch), targets_torch).backward()
        ours.step()
        theirs.step()
        worst = max(worst, largest_relative_difference(model, twin))
    return worst


def main() -> int:
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed (pip install -e '.[bench]'): nothing to compare")
        return 0
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x, targets = rng.random((BATCH, 784), dtype=np.float32), rng.integers(0, 10, BATCH)
    print(
        f"Optimizer parity with PyTorch {torch.__version__}: the deck MLP, batch {BATCH}, {STEPS} steps; "
        "largest |difference| of any parameter relative to its largest entry"
    )
    worst = 0.0
    for name, (_, options) in OPTIMIZERS.items():
        same = train_both(torch, name, True, x, targets)
        own = train_both(torch, name, False, x, targets)
        worst = max(worst, same)
        print(f"{name:>6} {options}: same gradients {same:.1e}, each library's own gradients {own:.1e}")
    print(f"largest with the same gradients: {worst:.1e} (bound {RELATIVE_BOUND:.0e})")
    return 0 if worst <= RELATIVE_BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
