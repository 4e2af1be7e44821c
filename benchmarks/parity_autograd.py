"""Gradient parity of tinytorch.core.autograd with PyTorch, and what the installed wrappers cost at inference.

Run it from the repository root with the project's venv (PyTorch comes from the `bench` extra):

    python benchmarks/parity_autograd.py           # about 10 seconds

Part 1 builds Sequential(Linear(20, 32), act, Linear(32, 16), act, Linear(16, 5)) for act in ReLU, Sigmoid, Tanh,
copies its float32 weights into the same torch.nn.Sequential (TinyTorch stores W as (in, out), PyTorch as (out, in)),
runs MSELoss and CrossEntropyLoss forward and backward in both, and prints the largest difference of the loss and of
the gradient of every parameter and of the input, absolute and relative to the largest gradient entry. Both compute in
float32, in different orders, so differences of a few float32 roundings (about 1e-7 relative) are expected; the exit
status is non-zero if any relative difference exceeds 1e-4.

Part 2 times Linear(784, 256) against raw NumPy `x @ W + b` on the layer's own arrays, under no_grad() and with
parameters that do not require grad (the two ways inference skips the graph), taking turns call by call, and prints
the median ratio over rounds. It asserts nothing about speed.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from tinytorch.core.activations import ReLU, Sigmoid, Tanh
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

SIZES = (20, 32, 16, 5)
BATCH = 64
RELATIVE_BOUND = 1e-4
ACTIVATIONS = {"ReLU": ReLU, "Sigmoid": Sigmoid, "Tanh": Tanh}


def build_pair(torch, activation: str, seed: int):
    """A tinytorch MLP and the torch.nn.Sequential with the same weights."""
    np.random.seed(seed)
    layers, torch_layers = [], []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        linear = Linear(n_in, n_out)
        linear.bias.data = np.random.uniform(-0.5, 0.5, n_out).astype(np.float32)
        twin = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(linear.weight.data.T.copy()))
            twin.bias.copy_(torch.from_numpy(linear.bias.data))
        layers.append(linear)
        torch_layers.append(twin)
        if i < len(SIZES) - 2:
            layers.append(ACTIVATIONS[activation]())
            torch_layers.append(getattr(torch.nn, activation)())
    return Sequential(*layers), torch.nn.Sequential(*torch_layers)


def compare(torch, activation: str, loss_name: str, seed: int) -> float:
    """Print the largest differences for one configuration; return the largest relative gradient difference."""
    model, twin = build_pair(torch, activation, seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    if loss_name == "MSELoss":
        target = rng.standard_normal((BATCH, SIZES[-1])).astype(np.float32)
        ours_loss, torch_loss, torch_target = MSELoss(), torch.nn.MSELoss(), torch.from_numpy(target)
    else:
        target = rng.integers(0, SIZES[-1], BATCH)
        ours_loss, torch_loss, torch_target = CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), torch.from_numpy(target)

    x_ours = Tensor(x, requires_grad=True)
    loss = ours_loss(model(x_ours), target)
    loss.backward()
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    torch_value = torch_loss(twin(x_torch), torch_target)
    torch_value.backward()

    pairs = [("input", x_ours.grad.data, x_torch.grad.numpy())]
    torch_params = [p for layer in twin if isinstance(layer, torch.nn.Linear) for p in (layer.weight, layer.bias)]
    for i, (ours, theirs) in enumerate(zip(model.parameters(), torch_params, strict=True)):
        theirs = theirs.grad.numpy()
        pairs.append(
            (f"{'W' if i % 2 == 0 else 'b'}{i // 2 + 1}", ours.grad.data, theirs.T if theirs.ndim == 2 else theirs)
        )
    worst = 0.0
    print(f"{activation:>7} {loss_name:<16} loss |diff| {abs(float(loss.data) - torch_value.item()):.1e}", end="")
    for name, ours, theirs in pairs:
        assert ours.dtype == np.float32 and ours.shape == theirs.shape, name
        absolute = float(np.abs(ours - theirs).max())
        relative = absolute / float(np.abs(theirs).max())
        worst = max(worst, relative)
        print(f"  {name} {absolute:.1e} ({relative:.1e})", end="")
    print()
    return worst


def inference_ratios(batches=(32, 128, 512), rounds=200) -> None:
    """Median time ratio of Linear(784, 256) to NumPy's x @ W + b, calls taking turns."""
    np.random.seed(0)
    layer, frozen = Linear(784, 256), Linear(784, 256)
    for p in frozen.parameters():
        p.requires_grad = False
    for batch in batches:
        x = Tensor(np.random.rand(batch, 784))
        W, b = layer.weight.data, layer.bias.data
        ratios = {"no_grad()": [], "no grad-requiring input": []}
        for _ in range(rounds):
            start = time.perf_counter()
            x.data @ W + b
            t_numpy = time.perf_counter() - start
            with no_grad():
                start = time.perf_counter()
                layer(x)
                t_no_grad = time.perf_counter() - start
            start = time.perf_counter()
            frozen(x)
            t_frozen = time.perf_counter() - start
            ratios["no_grad()"].append(t_no_grad / t_numpy)
            ratios["no grad-requiring input"].append(t_frozen / t_numpy)
        summary = ", ".join(f"{name} {statistics.median(values):.3f}x" for name, values in ratios.items())
        print(f"Linear(784, 256) batch {batch:>3} / NumPy x @ W + b (median of {rounds}): {summary}")


def main() -> int:
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed (pip install -e '.[bench]'): skipping the gradient parity")
        torch = None
    worst = 0.0
    if torch is not None:
        torch.set_num_threads(1)
        print(
            f"Gradient parity with PyTorch {torch.__version__}, batch {BATCH}, sizes {SIZES}: "
            "max |difference| (relative to the largest entry)"
        )
        for seed, activation in enumerate(ACTIVATIONS):
            for loss_name in ("MSELoss", "CrossEntropyLoss"):
                worst = max(worst, compare(torch, activation, loss_name, seed))
        print(f"largest relative gradient difference: {worst:.1e} (bound {RELATIVE_BOUND:.0e})")
    inference_ratios()
    return 0 if worst <= RELATIVE_BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
