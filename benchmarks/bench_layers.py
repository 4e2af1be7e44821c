"""Speed of tinytorch's layers on the CPU, inference and a training step, next to raw NumPy and PyTorch (see
benchmarks/README.md).

Run it from the repository root with the project's venv (PyTorch comes from the `bench` extra):

    python benchmarks/bench_layers.py            # full run, about two minutes; writes benchmarks/results/
    python benchmarks/bench_layers.py --quick    # smoke run, about 15 seconds; writes nothing

tinytorch, raw NumPy and PyTorch each run in a process of their own and take turns, case by case (harness.py);
printed are medians with their IQR, and ratios taken round by round. Autograd is installed (tinytorch.core.autograd),
so tinytorch's inference runs under no_grad(), as PyTorch's runs under inference_mode(). Nothing fails because a
machine is slow: the exit status is non-zero only when tinytorch and PyTorch compute different outputs (or training
steps) from the same weights, i.e. when the comparison would not be one of equal work.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    Cases,
    CpuMeter,
    Results,
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
    torch_description,
    verdict,
)

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import LayerGrads, no_grad
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import Tensor

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = 0
IN_FEATURES, HIDDEN, OUT_FEATURES = 784, 256, 10
LINEAR_BATCHES = (1, 32, 128, 512)
SWEEP_BATCHES = tuple(2**k for k in range(10))  # 1, 2, 4, ..., 512
TRAIN_BATCHES = (1, 32)
TRAIN_CASES = [f"train/{batch}" for batch in TRAIN_BATCHES]
CASES = [f"linear/{batch}" for batch in LINEAR_BATCHES] + [f"mlp/{batch}" for batch in SWEEP_BATCHES] + TRAIN_CASES
CHECK_BATCH = 32
LINEAR_TARGETS = {1: 1.25, 32: 1.05, 128: 1.05, 512: 1.05}  # tinytorch's time / NumPy's, at most
MLP_TARGETS = {1: 2.0, 32: 1.2}  # tinytorch's speed-up over PyTorch (PyTorch's time / tinytorch's), at least
TRAIN_TARGETS = {1: 1.5, 32: 1.0}  # the same for one training step
# Small, so that thousands of timed steps on one batch never push the logits to where softmax's probabilities reach
# float32's subnormal range (below 1e-38), whose arithmetic is many times slower on x86.
LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class Config:
    rounds: int  # visits of every case by every process, taking turns
    batches: int  # timed batches of calls per visit
    batch_seconds: float  # aimed length of one timed batch
    warmup_seconds: float  # before each visit (5x on a case's first visit, which also calibrates)
    profile_repeats: int


FULL = Config(rounds=40, batches=5, batch_seconds=0.004, warmup_seconds=0.01, profile_repeats=60)
QUICK = Config(rounds=4, batches=3, batch_seconds=0.002, warmup_seconds=0.005, profile_repeats=15)


# --------------------------------------------------------------------------------------------------
# The work, identical in every process (same seeds, same weights)


def make_input(batch: int) -> np.ndarray:
    return np.random.default_rng(SEED + batch).standard_normal((batch, IN_FEATURES), dtype=np.float32)


def make_targets(batch: int) -> np.ndarray:
    return np.random.default_rng([SEED, batch]).integers(0, OUT_FEATURES, batch)


def build_mlp() -> Sequential:
    """The deck's MLP in eval mode; biases are made non-zero so that the output check covers them."""
    np.random.seed(SEED)
    model = Sequential(Linear(IN_FEATURES, HIDDEN), ReLU(), Dropout(0.5), Linear(HIDDEN, OUT_FEATURES))
    rng = np.random.default_rng(SEED)
    for layer in (model[0], model[3]):
        layer.bias.data = 0.1 * rng.standard_normal(layer.out_features, dtype=np.float32)
    return model.eval()


def call(function: Callable[[Any], object], x: object) -> Callable[[], object]:
    return lambda: function(x)


def tinytorch_step(model: Sequential, batch: int) -> Callable[[], Tensor]:
    """One training step: forward, CrossEntropyLoss, backward, plain SGD on every parameter; returns the loss."""
    loss_fn, params = CrossEntropyLoss(), model.parameters()
    x, targets = Tensor(make_input(batch)), make_targets(batch)

    def step() -> Tensor:
        model.zero_grad()
        loss = loss_fn(model(x), targets)
        loss.backward()
        for param in params:
            param.data -= LEARNING_RATE * param.grad.data
        return loss

    return step


def numpy_step(model: Sequential, batch: int) -> Callable[[], float]:
    """The same step written by hand in NumPy (harness.mlp_gradients_by_hand), on the model's own arrays."""
    params = [param.data for param in model.parameters()]
    x, targets = make_input(batch), make_targets(batch)
    keep_prob = 1 - model[2].p if model[2].training else 1.0

    def step() -> float:
        loss, grads = mlp_gradients_by_hand(x, targets, params, keep_prob)
        for param, param_grad in zip(params, grads, strict=True):
            param -= LEARNING_RATE * param_grad
        return loss

    return step


def torch_step(net: Any, batch: int) -> Callable[[], Any]:
    import torch

    loss_fn, params = torch.nn.CrossEntropyLoss(), list(net.parameters())
    x, targets = torch.from_numpy(make_input(batch)), torch.from_numpy(make_targets(batch))

    def step() -> Any:
        net.zero_grad()
        loss = loss_fn(net(x), targets)
        loss.backward()
        with torch.no_grad():
            for param in params:
                param -= LEARNING_RATE * param.grad
        return loss

    return step


# --------------------------------------------------------------------------------------------------
# The contenders, each built in its own worker process


def tinytorch_cases(cfg: Config) -> Cases:
    """Inference under no_grad(), entered once per visit; each training case trains a model of its own."""
    model = build_mlp()
    cases = {f"linear/{b}": call(model[0], Tensor(make_input(b))) for b in LINEAR_BATCHES}
    cases |= {f"mlp/{b}": call(model, Tensor(make_input(b))) for b in SWEEP_BATCHES}
    cases |= {f"train/{b}": tinytorch_step(build_mlp().train(), b) for b in TRAIN_BATCHES}
    training = dict.fromkeys(TRAIN_CASES, contextlib.nullcontext)
    return Cases(cases, cfg.batches, cfg.batch_seconds, cfg.warmup_seconds, context=no_grad, contexts=training)


def numpy_cases(cfg: Config) -> Cases:
    """The same work in raw NumPy, on the float32 arrays of the same layers."""
    model = build_mlp()
    w1, b1, w2, b2 = model[0].weight.data, model[0].bias.data, model[3].weight.data, model[3].bias.data
    cases = {f"linear/{b}": call(lambda x: x @ w1 + b1, make_input(b)) for b in LINEAR_BATCHES}
    cases |= {f"mlp/{b}": call(lambda x: np.maximum(x @ w1 + b1, 0) @ w2 + b2, make_input(b)) for b in SWEEP_BATCHES}
    cases |= {f"train/{b}": numpy_step(build_mlp().train(), b) for b in TRAIN_BATCHES}
    return Cases(cases, cfg.batches, cfg.batch_seconds, cfg.warmup_seconds)


def torch_cases(cfg: Config, threads: int) -> Cases:
    """The same MLP in PyTorch, weights copied from tinytorch: inference under torch.inference_mode(), training
    steps (each on a model of its own) in grad mode."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    net = mlp_to_torch(build_mlp())
    cases = {f"mlp/{b}": call(net, torch.from_numpy(make_input(b))) for b in SWEEP_BATCHES}
    cases |= {f"train/{b}": torch_step(mlp_to_torch(build_mlp()).train(), b) for b in TRAIN_BATCHES}
    training = dict.fromkeys(TRAIN_CASES, contextlib.nullcontext)
    return Cases(
        cases, cfg.batches, cfg.batch_seconds, cfg.warmup_seconds, context=torch.inference_mode, contexts=training
    )


def tinytorch_output() -> np.ndarray:
    with no_grad():
        return build_mlp()(Tensor(make_input(CHECK_BATCH))).data


def tinytorch_training_check() -> np.ndarray:
    model = build_mlp()  # in eval mode: without dropout both libraries do the same arithmetic
    return step_figures(tinytorch_step(model, CHECK_BATCH), model.parameters())


def torch_training_check() -> np.ndarray:
    net = mlp_to_torch(build_mlp())
    return step_figures(torch_step(net, CHECK_BATCH), list(net.parameters()))


def torch_output() -> np.ndarray:
    import torch

    with torch.inference_mode():
        return mlp_to_torch(build_mlp())(torch.from_numpy(make_input(CHECK_BATCH))).numpy()


# Batch-1 pieces of the MLP, timed in the tinytorch process: piece -> (tinytorch statement, the same without it).
PROFILE = {
    "Linear(784, 256)": ("lin1(x)", "xa @ W1 + b1"),
    "ReLU": ("relu(h)", "np.maximum(ha, 0)"),
    "Dropout, eval mode": ("drop(h)", "pass"),
    "Linear(256, 10)": ("lin2(h)", "ha @ W2 + b2"),
    "the MLP": ("model(x)", "np.maximum(xa @ W1 + b1, 0) @ W2 + b2"),
    "a Module.__call__ (on Linear(4, 4))": ("tiny(t)", "tiny.forward(t)"),
    "a Tensor(float32 array)": ("Tensor(ya)", "pass"),
}


def profile(repeats: int) -> dict[str, float]:
    """Nanoseconds per statement of PROFILE (under no_grad(), as inference runs)."""
    model = build_mlp()
    np.random.seed(SEED)
    tiny = Linear(4, 4)
    xa = make_input(1)
    ha = np.maximum(xa @ model[0].weight.data + model[0].bias.data, 0)
    names = dict(np=np, Tensor=Tensor, model=model, lin1=model[0], relu=model[1], drop=model[2], lin2=model[3])
    names |= dict(x=Tensor(xa), xa=xa, h=Tensor(ha), ha=ha, tiny=tiny, t=Tensor(xa[:, :4]), ya=xa[:, :4].copy())
    names |= dict(W1=model[0].weight.data, b1=model[0].bias.data, W2=model[3].weight.data, b2=model[3].bias.data)
    with no_grad():
        return best_ns([s for pair in PROFILE.values() for s in pair], names, repeats)


# The training step's pieces, timed in the tinytorch process: piece -> statement.
TRAIN_PROFILE = {
    "the whole step": "step()",
    "forward and loss, under no_grad()": "with no_grad():\n    loss_fn(model(x), targets)",
    "forward and loss, recording the graph": "loss_fn(model(x), targets)",
    "forward, loss and backward()": "model.zero_grad(); loss_fn(model(x), targets).backward()",
    "SGD update of the 4 parameters": "for p in params:\n    p.data -= LEARNING_RATE * p.grad.data",
    "Linear(784, 256)'s backward rule, first layer": "LayerGrads.linear(grad, None, x.data, W1, b1, False)",
    "  the input's gradient it skips there, grad @ W.T": "grad @ W1.T",
}


def training_profile(repeats: int) -> dict[int, dict[str, float]]:
    """Microseconds per piece of TRAIN_PROFILE, and two differences of them, at each batch size of TRAIN_BATCHES."""
    figures = {}
    for batch in TRAIN_BATCHES:
        model = build_mlp().train()
        step, params = tinytorch_step(model, batch), model.parameters()
        step()  # every parameter has a gradient
        names = dict(step=step, model=model, params=params, loss_fn=CrossEntropyLoss(), x=Tensor(make_input(batch)))
        names |= dict(no_grad=no_grad, LayerGrads=LayerGrads, LEARNING_RATE=LEARNING_RATE, targets=make_targets(batch))
        names |= dict(W1=params[0].data, b1=params[1].data)
        names["grad"] = np.random.default_rng(SEED).standard_normal((batch, HIDDEN), dtype=np.float32)
        ns = best_ns(list(TRAIN_PROFILE.values()), names, max(3, repeats // 4))
        us = {piece: ns[statement] / 1e3 for piece, statement in TRAIN_PROFILE.items()}
        recorded = us["forward and loss, recording the graph"]
        us["  backward() (by difference)"] = us["forward, loss and backward()"] - recorded
        us["  recording the graph (by difference)"] = recorded - us["forward and loss, under no_grad()"]
        figures[batch] = us
    return figures


# --------------------------------------------------------------------------------------------------
# Report


def linear_section(results: Results, summary: list[str]) -> str:
    rows = []
    for batch in LINEAR_BATCHES:
        case, bound = f"linear/{batch}", LINEAR_TARGETS[batch]
        ratio = results.ratio(case, "tinytorch", "numpy")
        rows.append([batch, *(results.time(case, who).text(2, 1e6) for who in ("tinytorch", "numpy"))])
        rows[-1] += [ratio.text(3), f"<= {bound:.2f}", verdict(ratio, bound, at_most=True)]
        summary.append(f"Linear batch {batch:>3}: tinytorch/NumPy {ratio.text(3)}, target <= {bound}: {rows[-1][-1]}")
    headers = ["batch", "tinytorch µs", "NumPy µs", "tinytorch / NumPy", "target", "verdict"]
    return markdown_table(headers, rows)


def speedup_section(results: Results, summary: list[str], kind: str, targets: dict[int, float]) -> str:
    """Speed-ups over PyTorch (PyTorch's time / the other's) of the cases `kind/batch`, against `targets`."""
    rows = []
    for batch, bound in targets.items():
        case = f"{kind}/{batch}"
        speedup, numpy_speedup = results.ratio(case, "torch", "tinytorch"), results.ratio(case, "torch", "numpy")
        rows.append([batch, *(results.time(case, who).text(2, 1e6) for who in ("tinytorch", "numpy", "torch"))])
        rows[-1] += [numpy_speedup.text(2), speedup.text(2), f">= {bound:.1f}", verdict(speedup, bound, at_most=False)]
        summary.append(
            f"{kind} batch {batch:>3}: speed-up over PyTorch {speedup.text(2)}, target >= {bound}: {rows[-1][-1]}"
        )
    headers = [
        "batch",
        "tinytorch µs",
        "raw NumPy µs",
        "PyTorch µs",
        "raw NumPy's speed-up",
        "tinytorch's speed-up",
        "target",
        "verdict",
    ]
    return markdown_table(headers, rows)


def sweep_rows(results: Results, contenders: Sequence[str]) -> list[dict[str, float]]:
    rows = []
    for batch in SWEEP_BATCHES:
        case, row = f"mlp/{batch}", {"batch_size": batch}
        for who in contenders:
            stat = results.time(case, who)
            row |= {f"{who}_us": stat.median * 1e6, f"{who}_us_q25": stat.q25 * 1e6, f"{who}_us_q75": stat.q75 * 1e6}
            row[f"{who}_samples_per_s"] = batch / stat.median
        row["tinytorch_over_numpy"] = results.ratio(case, "tinytorch", "numpy").median
        if "torch" in contenders:
            row["torch_over_tinytorch"] = results.ratio(case, "torch", "tinytorch").median
        rows.append(row)
    return rows


def sweep_table(rows: list[dict[str, float]]) -> str:
    has_torch = "torch_us" in rows[0]
    headers = ["batch", "tinytorch", "raw NumPy", *(["PyTorch"] if has_torch else []), "tinytorch/NumPy time"]
    table = []
    for row in rows:
        cells = [row["batch_size"], f"{row['tinytorch_samples_per_s']:,.0f}", f"{row['numpy_samples_per_s']:,.0f}"]
        cells += [f"{row['torch_samples_per_s']:,.0f}"] if has_torch else []
        cells += [f"{row['tinytorch_over_numpy']:.2f}"]
        cells += [f"{row['torch_over_tinytorch']:.2f}x"] if has_torch else []
        table.append(cells)
    return markdown_table(headers + (["tinytorch speed-up vs PyTorch"] if has_torch else []), table)


def write_csv(rows: list[dict[str, float]], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)


def write_plot(rows: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = np.array([row["batch_size"] for row in rows])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"tinytorch": ("tinytorch", "o-"), "numpy": ("raw NumPy", "s--"), "torch": ("PyTorch (CPU)", "^-")}
    for who, (label, style) in styles.items():
        if f"{who}_us" in rows[0]:
            median, slow, fast = (np.array([row[f"{who}_us{q}"] for row in rows]) for q in ("", "_q75", "_q25"))
            throughput = batches / median * 1e6
            errors = [throughput - batches / slow * 1e6, batches / fast * 1e6 - throughput]
            left.errorbar(batches, throughput, yerr=errors, fmt=style, label=label, capsize=2, markersize=4)
    left.set(xscale="log", yscale="log", xlabel="batch size", ylabel="samples / s (higher is better)")
    left.set_title("MLP 784-256-10, eval mode: throughput (median, IQR)", fontsize=10)
    right.plot(batches, [row["tinytorch_over_numpy"] for row in rows], "s--", label="vs raw NumPy", markersize=4)
    if "torch_over_tinytorch" in rows[0]:
        right.plot(batches, [1 / row["torch_over_tinytorch"] for row in rows], "^-", label="vs PyTorch", markersize=4)
        targets = sorted(MLP_TARGETS.items())
        right.plot([b for b, _ in targets], [1 / t for _, t in targets], "rx", label="target vs PyTorch (at most)")
    right.axhline(1.0, color="grey", linewidth=0.8)
    right.set(xscale="log", xlabel="batch size", ylabel="tinytorch time / other's time (lower is better)")
    right.set_title("tinytorch's time relative to raw NumPy and PyTorch (median ratios)", fontsize=10)
    for axis in (left, right):
        axis.set_xticks(batches, [str(batch) for batch in batches])
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def profile_table(ns: dict[str, float]) -> str:
    rows, layers = [], 0.0
    for piece, (ours, without) in PROFILE.items():
        overhead = ns[ours] - ns[without]
        layers += overhead if piece in ("Linear(784, 256)", "ReLU", "Dropout, eval mode", "Linear(256, 10)") else 0
        rows.append([piece, f"`{ours}`", f"{ns[ours]:,.0f}", f"`{without}`", f"{ns[without]:,.0f}", f"{overhead:,.0f}"])
        if piece == "the MLP":
            rows.append(["  Sequential's loop and the rest", "", "", "", "", f"{overhead - layers:,.0f}"])
    return markdown_table(["piece", "tinytorch", "ns", "without it", "ns", "overhead ns"], rows)


def training_profile_table(us: dict[int, dict[str, float]]) -> str:
    rows = [[piece, *(f"{us[batch][piece]:,.1f}" for batch in TRAIN_BATCHES)] for piece in us[TRAIN_BATCHES[0]]]
    return markdown_table(["piece (tinytorch)", *(f"batch {batch} µs" for batch in TRAIN_BATCHES)], rows)


# --------------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds and short batches; writes no results")
    add_threads_option(parser)
    parser.add_argument("--rounds", type=int, help="visits of every case per process (default 40; 4 with --quick)")
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = QUICK if args.quick else FULL
    cfg = Config(args.rounds or cfg.rounds, cfg.batches, cfg.batch_seconds, cfg.warmup_seconds, cfg.profile_repeats)
    settle = equalise_threads(args.threads)
    has_torch = importlib.util.find_spec("torch") is not None
    print(f"# tinytorch speed benchmark{' (--quick)' if args.quick else ''}; load average {load_average()}\n")
    meter = CpuMeter()
    contenders = [Worker("tinytorch", tinytorch_cases, cfg), Worker("numpy", numpy_cases, cfg)]
    contenders += [Worker("torch", torch_cases, cfg, args.threads)] if has_torch else []
    with running(contenders) as (tinytorch, numpy, *torch):
        libraries = [numpy.call(numpy_description)] + [worker.call(torch_description) for worker in torch]
        ours, theirs = tinytorch.call(tinytorch_output), [worker.call(torch_output) for worker in torch]
        results = take_turns(contenders, CASES, cfg.rounds, settle=settle)
        ns = tinytorch.call(profile, cfg.profile_repeats)
        training_us = tinytorch.call(training_profile, cfg.profile_repeats)
        ours_step = tinytorch.call(tinytorch_training_check)
        theirs_step = [worker.call(torch_training_check) for worker in torch]
    print(f"\npython {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; " + "; ".join(libraries))
    print(f"threads: {args.threads or 'library defaults'}; {meter.others()}; load average {load_average()}")
    print(f"method: {cfg.rounds} rounds, {cfg.batches} batches of ~{cfg.batch_seconds * 1e3:.0f} ms per visit")
    if not has_torch:
        print("torch is not installed: PyTorch comparisons skipped (pip install -e '.[bench]')")
    # Equal work: the same weights give the same outputs (float32; the BLAS libraries round differently).
    agree = all(np.allclose(ours, other, rtol=1e-4, atol=1e-5) for other in theirs)
    for other in theirs:
        print(
            f"{'OK' if agree else 'FAIL'}: tinytorch and PyTorch agree on the MLP's output for a batch of "
            f"{CHECK_BATCH}: max |diff| {np.max(np.abs(ours - other)):.1e}"
        )
    for other in theirs_step:
        same_step = np.allclose(ours_step, other, rtol=1e-4)
        agree &= same_step
        print(
            f"{'OK' if same_step else 'FAIL'}: one training step (dropout off), tinytorch / PyTorch: loss "
            f"{ours_step[0]:.6f} / {other[0]:.6f}, gradient norm {ours_step[1]:.6f} / {other[1]:.6f}, "
            f"loss after the step {ours_step[2]:.6f} / {other[2]:.6f}"
        )

    summary: list[str] = []
    print("\n## 1. Linear(784, 256) forward vs raw NumPy `x @ W + b` (same float32 arrays)\n")
    print(linear_section(results, summary))
    if has_torch:
        print("\n## 2. The MLP (Linear, ReLU, Dropout, Linear) in eval mode vs PyTorch CPU: speed-ups\n")
        print(speedup_section(results, summary, "mlp", MLP_TARGETS))
    print("\n## 3. Batch-size sweep: MLP eval throughput (samples/s, median)\n")
    sweep = sweep_rows(results, ["tinytorch", "numpy"] + (["torch"] if has_torch else []))
    print(sweep_table(sweep))
    if not (args.quick or args.no_save):
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        write_csv(sweep, RESULTS_DIR / "batch_sweep.csv")
        title = "; ".join(libraries) + f"; threads: {args.threads or 'library defaults'}; {os.cpu_count()} CPUs"
        write_plot(sweep, RESULTS_DIR / "batch_sweep.png", title)
        print(f"\nsaved {RESULTS_DIR / 'batch_sweep.csv'} and {RESULTS_DIR / 'batch_sweep.png'}")
    print("\n## 4. Where the overhead goes at batch 1 (timeit, best of repeats, ns per call)\n")
    print(profile_table(ns))
    if has_torch:
        print(
            "\n## 5. One training step of the MLP (forward, CrossEntropyLoss, backward, SGD on every parameter) "
            "vs PyTorch CPU: speed-ups\n"
        )
        print(speedup_section(results, summary, "train", TRAIN_TARGETS))
    print("\n## 6. Where a training step's time goes (timeit, best of repeats, µs per call)\n")
    print(training_profile_table(training_us))
    print("\n## Summary\n\n" + "\n".join(summary))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
