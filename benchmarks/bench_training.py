"""Speed of training a small MLP on scikit-learn's handwritten digits with Adam at batch 32: tinytorch next to
PyTorch CPU and the same training written by hand in raw NumPy (see benchmarks/README.md).

Run it from the repository root with the project's venv (PyTorch comes from the `bench` extra):

    python benchmarks/bench_training.py            # full run, about two minutes
    python benchmarks/bench_training.py --quick    # smoke run, about 20 seconds

Every contender runs in a process of its own (harness.py) and trains, on each visit, a fresh copy of the same MLP
from the same initial weights, with the same shuffled batches, timing each epoch; the contenders take turns, round
by round. Printed are samples/s and the time per epoch (medians with their IQR), tinytorch's speed-up over PyTorch
(one ratio per round), the test accuracy each one reaches, and where tinytorch's step spends its time. Nothing fails
because a machine is slow: the exit status is non-zero only when tinytorch and PyTorch compute a different first
training step from the same weights (dropout off), i.e. when the comparison would not be one of equal work.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import itertools
import math
import os
import platform
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from harness import (
    CpuMeter,
    Results,
    Stat,
    Worker,
    add_threads_option,
    best_ns,
    equalise_threads,
    load_average,
    markdown_table,
    mlp_gradients_by_hand,
    mlp_to_torch,
    numpy_description,
    running,
    step_figures,
    take_turns,
    time_calls,
    torch_description,
    verdict,
)
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import LayerGrads, no_grad
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor

SEED = 0
TEST_FRACTION = 0.2
HIDDEN, CLASSES, DROPOUT = 256, 10, 0.1
BATCH = 32
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults; 1e-3 reaches ~97% in 10 epochs
TARGET = 1.0  # tinytorch's speed-up over PyTorch (PyTorch's time / tinytorch's), at least
CASE = "epoch"
# name -> what it is, in the order of the tables; PyTorch's default Adam is the baseline of the target.
CONTENDERS = {
    "tinytorch": "tinytorch (Adam of tinytorch.core.optimizers)",
    "numpy": "raw NumPy by hand (Adam in place)",
    "torch": "PyTorch CPU (torch.optim.Adam, default)",
    "torch-fused": "PyTorch CPU (torch.optim.Adam, fused=True)",
}
TORCH_CONTENDERS = ("torch", "torch-fused")


@dataclass(frozen=True)
class Config:
    rounds: int  # visits by every process, taking turns; each visit is one training run
    epochs: int  # epochs per training run, each timed
    profile_repeats: int  # best of, for the profile of one step


FULL = Config(rounds=30, epochs=10, profile_repeats=15)
QUICK = Config(rounds=4, epochs=3, profile_repeats=3)


# --------------------------------------------------------------------------------------------------
# The work, identical in every process (same data, split, batches, initial weights and seeds)


@dataclass(frozen=True)
class Digits:
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1]: x (N, 64) float32, y (N,) int64 class indices."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@functools.cache
def load() -> Digits:
    """The bundled data set (no download), split once with a fixed seed: 20% held out, stratified by class."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel values are 0..16
    parts = train_test_split(x, digits.target, test_size=TEST_FRACTION, random_state=SEED, stratify=digits.target)
    x_train, x_test, y_train, y_test = parts
    return Digits(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64))


def epoch_batches(data: Digits, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The shuffled training batches of `epoch`: (BATCH, 64) and (BATCH,) NumPy slices, the last one shorter; the
    permutation depends on the epoch only, so every contender sees the same batches in the same order."""
    order = np.random.default_rng([SEED, epoch]).permutation(len(data.x_train))
    x, y = data.x_train[order], data.y_train[order]
    for start in range(0, len(x), BATCH):
        yield x[start : start + BATCH], y[start : start + BATCH]


def build_mlp() -> Sequential:
    """The MLP in training mode, its weights from NumPy's global seed (Linear's own initialisation), biases zero."""
    np.random.seed(SEED)
    features = load().x_train.shape[1]
    return Sequential(Linear(features, HIDDEN), ReLU(), Dropout(DROPOUT), Linear(HIDDEN, CLASSES)).train()


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(logits.argmax(axis=1) == labels))


def train_step(model: Any, loss_fn: Any, optimizer: Any, x: Any, y: Any) -> Any:
    """One step, in tinytorch or PyTorch alike (the same API names): zero the gradients, forward, loss, backward,
    update. x and y already wrapped for the library; returns the loss."""
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


# A training run: `start()` builds a fresh model and optimizer and returns (train_epoch(epoch), test_accuracy()).
Run = tuple[Callable[[int], None], Callable[[], float]]


def tinytorch_run() -> Run:
    data, model = load(), build_mlp()
    optimizer, loss_fn = Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS), CrossEntropyLoss()
    np.random.seed(SEED)  # Dropout's masks, the same in every run

    def train_epoch(epoch: int) -> None:
        for x, y in epoch_batches(data, epoch):
            train_step(model, loss_fn, optimizer, Tensor(x), y)

    def test_accuracy() -> float:
        with no_grad():
            return accuracy(model.eval()(Tensor(data.x_test)).data, data.y_test)

    return train_epoch, test_accuracy


class AdamByHand:
    """torch.optim.Adam's update (amsgrad off, no weight decay) on NumPy arrays, in place: each step works in one
    scratch array per parameter and allocates nothing. The floor for an optimizer written on NumPy."""

    def __init__(self, params: Sequence[np.ndarray], lr: float = LR, betas: tuple = BETAS, eps: float = EPS):
        self.params, self.lr, self.betas, self.eps, self.steps = list(params), lr, betas, eps, 0
        self.exp_avg, self.exp_avg_sq, self.scratch = ([np.zeros_like(p) for p in self.params] for _ in range(3))

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Update every parameter from its gradient, `grads[i]` of `params[i]`'s shape."""
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        bias2_sqrt = math.sqrt(1 - beta2**self.steps)
        for p, g, m, v, scratch in zip(self.params, grads, self.exp_avg, self.exp_avg_sq, self.scratch, strict=True):
            np.multiply(g, 1 - beta1, out=scratch)
            m *= beta1
            m += scratch  # m = beta1 m + (1 - beta1) g
            np.multiply(g, g, out=scratch)
            scratch *= 1 - beta2
            v *= beta2
            v += scratch  # v = beta2 v + (1 - beta2) g^2
            np.sqrt(v, out=scratch)
            scratch /= bias2_sqrt
            scratch += self.eps
            np.divide(m, scratch, out=scratch)
            scratch *= step_size
            p -= scratch  # p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)


def numpy_run() -> Run:
    data = load()
    params = [param.data.copy() for param in build_mlp().parameters()]  # w1, b1, w2, b2
    optimizer = AdamByHand(params)
    np.random.seed(SEED)  # the same masks as tinytorch's Dropout draws

    def train_epoch(epoch: int) -> None:
        for x, y in epoch_batches(data, epoch):
            optimizer.step(mlp_gradients_by_hand(x, y, params, 1 - DROPOUT)[1])

    def test_accuracy() -> float:
        w1, b1, w2, b2 = params
        return accuracy(np.maximum(data.x_test @ w1 + b1, 0) @ w2 + b2, data.y_test)

    return train_epoch, test_accuracy


def torch_run(fused: bool) -> Run:
    import torch

    torch.manual_seed(SEED)
    data, net = load(), mlp_to_torch(build_mlp())
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS, eps=EPS, fused=fused or None)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_epoch(epoch: int) -> None:
        for x, y in epoch_batches(data, epoch):
            train_step(net, loss_fn, optimizer, torch.from_numpy(x), torch.from_numpy(y))

    def test_accuracy() -> float:
        with torch.inference_mode():
            return accuracy(net.eval()(torch.from_numpy(data.x_test)).numpy(), data.y_test)

    return train_epoch, test_accuracy


# --------------------------------------------------------------------------------------------------
# The contenders, each in its own worker process


class Runs:
    """What a worker holds: one case, CASE, whose every visit is a training run of `epochs` epochs from the start,
    timed epoch by epoch with the garbage collector off; the test accuracy each run reached is kept in `accuracies`.
    """

    def __init__(self, start: Callable[[], Run], epochs: int) -> None:
        self.start, self.epochs, self.accuracies = start, epochs, []
        start()[0](0)  # warm-up: one epoch pays for lazy imports, first calls and the allocator's growth

    def names(self) -> list[str]:
        return [CASE]

    def visit(self, case: str) -> list[float]:
        train_epoch, test_accuracy = self.start()
        gc.collect()
        gc.disable()
        try:
            seconds = [time_calls(functools.partial(train_epoch, epoch), 1) for epoch in range(self.epochs)]
        finally:
            gc.enable()
        self.accuracies.append(test_accuracy())
        return seconds

    def accuracy_range(self) -> tuple[float, float]:
        return min(self.accuracies), max(self.accuracies)


def tinytorch_runs(cfg: Config) -> Runs:
    return Runs(tinytorch_run, cfg.epochs)


def numpy_runs(cfg: Config) -> Runs:
    return Runs(numpy_run, cfg.epochs)


def torch_runs(cfg: Config, threads: int, fused: bool) -> Runs:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return Runs(functools.partial(torch_run, fused), cfg.epochs)


def tinytorch_first_step() -> np.ndarray:
    """step_figures of the first batch, dropout off (eval mode): without masks both libraries do the same arithmetic."""
    model, (x, y) = build_mlp().eval(), next(epoch_batches(load(), 0))
    optimizer, loss_fn = Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS), CrossEntropyLoss()
    return step_figures(functools.partial(train_step, model, loss_fn, optimizer, Tensor(x), y), model.parameters())


def torch_first_step() -> np.ndarray:
    import torch

    net, (x, y) = mlp_to_torch(build_mlp().eval()), next(epoch_batches(load(), 0))
    optimizer, loss_fn = torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS, eps=EPS), torch.nn.CrossEntropyLoss()
    step = functools.partial(train_step, net, loss_fn, optimizer, torch.from_numpy(x), torch.from_numpy(y))
    return step_figures(step, list(net.parameters()))


# --------------------------------------------------------------------------------------------------
# Where a step's time goes: single statements timed in each worker (harness.best_ns), at batch 32, in training mode

STEP = "the whole step"
FORWARD = "forward and loss, no graph"
MASK = "  of which Dropout's mask, np.random.random((32, 256)) < 0.9"
RECORDED = "forward and loss, recording the graph"
ZERO_GRAD = "optimizer.zero_grad()"
BACKWARD = "zero_grad(), forward, loss, backward() (NumPy: its gradients)"
ADAM = "optimizer.step(): Adam on the 4 parameters"
FUSED = "optimizer.step(), fused=True"
LINEAR_RULE = "Linear(64, 256)'s backward rule, first layer"
INPUT_GRAD = "  the input's gradient it skips there, grad @ W.T"
# The pieces tinytorch and PyTorch share, as statements on the names `model`, `optimizer`, `loss_fn`, `no_grad`.
LIBRARY_STATEMENTS = {
    STEP: "train_step(model, loss_fn, optimizer, *next(batches))",
    FORWARD: "with no_grad():\n    loss_fn(model(x), y)",
    RECORDED: "loss_fn(model(x), y)",
    ZERO_GRAD: "optimizer.zero_grad()",
    BACKWARD: "optimizer.zero_grad()\nloss_fn(model(x), y).backward()",
    ADAM: "spare_optimizer.step()",
}
PIECES = [STEP, FORWARD, MASK, RECORDED, ZERO_GRAD, BACKWARD, ADAM, FUSED, LINEAR_RULE, INPUT_GRAD]


def piece_us(statements: dict[str, str], names: dict[str, Any], repeats: int) -> dict[str, float]:
    """Microseconds per piece: piece -> statement, timed by best_ns."""
    ns = best_ns(list(statements.values()), names, repeats)
    return {piece: ns[statement] / 1e3 for piece, statement in statements.items()}


def profile_names(wrap: Callable[[np.ndarray], Any]) -> dict[str, Any]:
    """The batches of epoch 0, wrapped for the library, cycled (so that the timed steps train on all the data
    rather than drive one batch's logits to float32's slow subnormal range); `x`, `y`: the first batch."""
    pairs = [(wrap(x), wrap(y)) for x, y in epoch_batches(load(), 0)]
    names = dict(batches=itertools.cycle(pairs), x=pairs[0][0], y=pairs[0][1], train_step=train_step, np=np)
    return names | dict(mask_shape=(len(pairs[0][1]), HIDDEN), keep_prob=1 - DROPOUT)


def tinytorch_profile(repeats: int) -> dict[str, float]:
    """The Adam step is timed on a spare model, so that its thousands of updates with one gradient leave the
    trained model alone."""
    names = profile_names(lambda a: Tensor(a) if a.dtype == np.float32 else a)
    model, spare = build_mlp(), build_mlp()
    names |= dict(model=model, loss_fn=CrossEntropyLoss(), no_grad=no_grad, LayerGrads=LayerGrads)
    names["optimizer"], names["spare_optimizer"] = (Adam(m.parameters(), LR, BETAS, EPS) for m in (model, spare))
    train_step(spare, names["loss_fn"], names["spare_optimizer"], names["x"], names["y"])  # gradients, Adam's state
    names |= dict(xa=names["x"].data, W1=model[0].weight.data, b1=model[0].bias.data)
    names["grad"] = np.random.default_rng(SEED).standard_normal((len(names["xa"]), HIDDEN), dtype=np.float32)
    statements = LIBRARY_STATEMENTS | {
        MASK: "np.random.random(mask_shape) < keep_prob",
        LINEAR_RULE: "LayerGrads.linear(grad, None, xa, W1, b1, False)",
        INPUT_GRAD: "grad @ W1.T",
    }
    return piece_us(statements, names, repeats)


def numpy_profile(repeats: int) -> dict[str, float]:
    names = profile_names(lambda a: a)
    params, spare = ([p.data.copy() for p in build_mlp().parameters()] for _ in range(2))
    names |= dict(gradients=mlp_gradients_by_hand, params=params)
    names |= dict(optimizer=AdamByHand(params), spare_optimizer=AdamByHand(spare))
    names["spare_grads"] = mlp_gradients_by_hand(names["x"], names["y"], spare, 1 - DROPOUT)[1]
    statements = {
        STEP: "optimizer.step(gradients(*next(batches), params, keep_prob)[1])",
        MASK: "np.random.random(mask_shape) < keep_prob",
        BACKWARD: "gradients(x, y, params, keep_prob)",
        ADAM: "spare_optimizer.step(spare_grads)",
    }
    return piece_us(statements, names, repeats)


def torch_profile(repeats: int) -> dict[str, float]:
    import torch

    names = profile_names(torch.from_numpy)
    model, spare, spare_fused = (mlp_to_torch(build_mlp()) for _ in range(3))
    names |= dict(model=model, loss_fn=torch.nn.CrossEntropyLoss(), no_grad=torch.no_grad)
    names["optimizer"] = torch.optim.Adam(model.parameters(), LR, BETAS, EPS)
    names["spare_optimizer"] = torch.optim.Adam(spare.parameters(), LR, BETAS, EPS)
    names["fused_optimizer"] = torch.optim.Adam(spare_fused.parameters(), LR, BETAS, EPS, fused=True)
    for net, optimizer in ((spare, "spare_optimizer"), (spare_fused, "fused_optimizer")):
        train_step(net, names["loss_fn"], names[optimizer], names["x"], names["y"])
    return piece_us(LIBRARY_STATEMENTS | {FUSED: "fused_optimizer.step()"}, names, repeats)


# --------------------------------------------------------------------------------------------------
# Report


def throughput_table(results: Results, names: Sequence[str], accuracies: dict[str, tuple[float, float]]) -> str:
    """One row per contender: samples/s and ms per epoch (median [IQR] over every timed epoch), speed-up over
    PyTorch's default Adam (PyTorch's epoch time / the contender's, one ratio per round), test accuracy."""
    samples = len(load().x_train)
    rows = []
    for name in names:
        throughput = Stat.of([samples / seconds for seconds in results.samples(CASE, name)])
        speedup = results.ratio(CASE, "torch", name).text(2) + " ×" if "torch" in names else "—"
        low, high = accuracies[name]
        reached = f"{low:.2%}" if low == high else f"{low:.2%} to {high:.2%}"
        rows.append([CONTENDERS[name], throughput.text(0), results.time(CASE, name).text(2, 1e3), speedup, reached])
    return markdown_table(["contender", "samples/s", "ms per epoch", "speed-up over PyTorch", "test accuracy"], rows)


def profile_table(profiles: dict[str, dict[str, float]]) -> str:
    """µs per piece and library, with three pieces worked out by difference."""
    derived = {
        "  backward() alone (by difference)": lambda us: us[BACKWARD] - us[ZERO_GRAD] - us[RECORDED],
        "  recording the graph (by difference)": lambda us: us[RECORDED] - us[FORWARD],
        "the rest: batches, wrapping, calls (step - backward - Adam)": lambda us: us[STEP] - us[BACKWARD] - us[ADAM],
    }
    rows = []
    for piece in [*PIECES, *derived]:
        cells = []
        for us in profiles.values():
            try:
                cells.append(f"{derived[piece](us) if piece in derived else us[piece]:,.1f}")
            except KeyError:  # a piece this library does not have (NumPy has no graph to record)
                cells.append("—")
        rows.append([piece, *cells])
    return markdown_table(["piece", *(f"{CONTENDERS[name].split(' (')[0]} µs" for name in profiles)], rows)


def equal_work(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Print and judge the first step's figures of tinytorch and PyTorch (float32 in both, summed in other orders:
    a few roundings apart)."""
    same = bool(np.allclose(ours, theirs, rtol=1e-4))
    print(
        f"{'OK' if same else 'FAIL'}: first training step on the same batch and weights (dropout off), tinytorch / "
        f"PyTorch: loss {ours[0]:.6f} / {theirs[0]:.6f}, gradient norm {ours[1]:.6f} / {theirs[1]:.6f}, loss after "
        f"one Adam step {ours[2]:.6f} / {theirs[2]:.6f} (rtol 1e-4)"
    )
    return same


# --------------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds of short runs: about 20 seconds")
    add_threads_option(parser)
    parser.add_argument("--rounds", type=int, help="training runs per contender (default 30; 4 with --quick)")
    parser.add_argument("--epochs", type=int, help="timed epochs per training run (default 10; 3 with --quick)")
    return parser.parse_args(argv)


def measure(cfg: Config, threads: int, has_torch: bool) -> tuple[Results, dict[str, Any]]:
    """Run the contenders in their workers, taking turns; then the accuracies, the profiles and the equal-work
    figures from the same workers."""
    settle = equalise_threads(threads)
    contenders = [Worker("tinytorch", tinytorch_runs, cfg), Worker("numpy", numpy_runs, cfg)]
    if has_torch:
        contenders += [Worker(name, torch_runs, cfg, threads, name == "torch-fused") for name in TORCH_CONTENDERS]
    with running(contenders) as workers:
        by_name = {worker.name: worker for worker in workers}
        extra: dict[str, Any] = {"libraries": [by_name["numpy"].call(numpy_description)]}
        extra["libraries"] += [by_name["torch"].call(torch_description)] if has_torch else []
        results = take_turns(contenders, [CASE], cfg.rounds, settle=settle)
        extra["accuracies"] = {name: worker.call("accuracy_range") for name, worker in by_name.items()}
        profilers = {"tinytorch": tinytorch_profile, "numpy": numpy_profile, "torch": torch_profile}
        extra["profiles"] = {
            name: by_name[name].call(profiler, cfg.profile_repeats)
            for name, profiler in profilers.items()
            if name in by_name
        }
        if has_torch:
            extra["steps"] = by_name["tinytorch"].call(tinytorch_first_step), by_name["torch"].call(torch_first_step)
    return results, extra


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = QUICK if args.quick else FULL
    cfg = Config(args.rounds or cfg.rounds, args.epochs or cfg.epochs, cfg.profile_repeats)
    has_torch = importlib.util.find_spec("torch") is not None
    data = load()
    print(f"# tinytorch training benchmark{' (--quick)' if args.quick else ''}; load average {load_average()}\n")
    print(
        f"digits: {len(data.x_train)} training and {len(data.x_test)} test samples of {data.x_train.shape[1]} "
        f"pixels in [0, 1]; MLP {data.x_train.shape[1]}-{HIDDEN}-{CLASSES}, Dropout({DROPOUT}); Adam(lr={LR}); "
        f"batch {BATCH}, {math.ceil(len(data.x_train) / BATCH)} steps per epoch\n"
    )
    meter = CpuMeter()
    results, extra = measure(cfg, args.threads, has_torch)
    names = [name for name in CONTENDERS if (CASE, name) in results.visits]
    print(
        f"\npython {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; "
        + "; ".join(extra["libraries"])
    )
    print(f"threads: {args.threads or 'library defaults'}; {meter.others()}; load average {load_average()}")
    print(f"method: {cfg.rounds} rounds; each visit trains {cfg.epochs} epochs from the same start, each epoch timed")
    agree = True
    if has_torch:
        agree = equal_work(*extra["steps"])
    else:
        print("torch is not installed: PyTorch comparisons skipped (pip install -e '.[bench]')")

    print(f"\n## 1. Training throughput, {cfg.rounds} runs of {cfg.epochs} epochs each (median [IQR])\n")
    print(throughput_table(results, names, extra["accuracies"]))
    print("\n## 2. Where one step's time goes (timeit, best of repeats, µs per call, batch 32, dropout on)\n")
    print(profile_table(extra["profiles"]))
    print("\n## Summary\n")
    if has_torch:
        speedup = results.ratio(CASE, "torch", "tinytorch")
        print(
            f"tinytorch's speed-up over PyTorch CPU (default Adam) in samples/s: {speedup.text(2)} ×, target >= "
            f"{TARGET:.1f} ×: {verdict(speedup, TARGET, at_most=False)}"
        )
        print(f"over PyTorch with fused Adam: {results.ratio(CASE, 'torch-fused', 'tinytorch').text(2)} ×")
        print(f"raw NumPy's speed-up over PyTorch (the floor): {results.ratio(CASE, 'torch', 'numpy').text(2)} ×")
    print(f"tinytorch's epoch time / raw NumPy's: {results.ratio(CASE, 'tinytorch', 'numpy').text(2)}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
