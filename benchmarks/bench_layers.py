"""Speed benchmark of tinytorch's layers against raw NumPy and PyTorch on the CPU.

Run it from the repository root with the project's venv (PyTorch comes from the `bench` extra):

    python benchmarks/bench_layers.py            # full run, about a minute; writes benchmarks/results/
    python benchmarks/bench_layers.py --quick    # smoke run, about 10 seconds; writes nothing

It measures and prints; it asserts nothing about speed. The exit status is non-zero only when a
correctness check fails: a float32 hygiene check, or tinytorch and PyTorch disagreeing on the MLP's output.

Method. NumPy's and PyTorch's thread pools would fight over the cores, so each framework is timed in its
own child process of this script (`--worker numpy|torch`), and only one of them works at a time: the parent
asks them in turn, case by case (numpy, torch, numpy, torch, ...), for many rounds, so that a busy phase of
a shared machine hits both alike. Every child gets the same thread count (OMP/OPENBLAS/MKL_NUM_THREADS and
torch.set_num_threads). Inside a child each case is warmed up, then timed with time.perf_counter over
batches of many calls; tinytorch and raw NumPy share the numpy child and take turns batch by batch, so their
ratio is taken pair by pair. Reported: median time per call and median ratio with the interquartile range
(IQR, 25th-75th percentile).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import gc
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.tensor import Tensor

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = 0
IN_FEATURES, HIDDEN, OUT_FEATURES = 784, 256, 10
LINEAR_BATCHES = (1, 8, 32, 128, 512)
SWEEP_BATCHES = tuple(2**k for k in range(10))  # 1, 2, 4, ..., 512
CHECK_BATCH = 32
SETTLE_SECONDS = 0.3  # pause when switching processes if the libraries run more than one thread each
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

# Linear: tinytorch time / NumPy time must be at most the bound.
LINEAR_TARGETS = {1: 1.25, 32: 1.05, 128: 1.05, 512: 1.05}
# MLP: PyTorch time / tinytorch time (tinytorch's speed-up) must be at least the bound.
MLP_TARGETS = {1: 2.0, 32: 1.2}

Fn = Callable[[], object]
Samples = dict[str, list[float]]  # implementation name -> seconds per call, one value per timed batch
Payload = dict[str, Any]


@dataclass(frozen=True)
class Config:
    rounds: int  # visits of every case, alternating between the numpy and the torch process
    batches: int  # timed batches per case and visit
    batch_seconds: float  # aimed length of one timed batch
    warmup_seconds: float  # before each visit; the first visit of a case warms up 5x longer and calibrates
    profile_repeats: int


FULL = Config(rounds=40, batches=5, batch_seconds=0.004, warmup_seconds=0.01, profile_repeats=60)
QUICK = Config(rounds=4, batches=3, batch_seconds=0.002, warmup_seconds=0.005, profile_repeats=15)
CASES = [f"linear/{batch}" for batch in LINEAR_BATCHES] + [f"mlp/{batch}" for batch in SWEEP_BATCHES]


# --------------------------------------------------------------------------------------------------
# Models and inputs (identical in every process: same seeds, same weights)


def make_input(batch: int) -> np.ndarray:
    return np.random.default_rng(SEED + batch).standard_normal((batch, IN_FEATURES), dtype=np.float32)


def build_mlp() -> Sequential:
    """The benchmarked MLP in eval mode; biases are made non-zero so that the output check covers them."""
    np.random.seed(SEED)
    model = Sequential(Linear(IN_FEATURES, HIDDEN), ReLU(), Dropout(0.5), Linear(HIDDEN, OUT_FEATURES))
    rng = np.random.default_rng(SEED)
    for layer in (model[0], model[3]):
        layer.bias.data = 0.1 * rng.standard_normal(layer.out_features, dtype=np.float32)
    return model.eval()


def to_torch(model: Sequential) -> Any:
    """The same architecture as a torch.nn.Sequential, with the tinytorch weights copied in (float32, eval)."""
    import torch

    first, last = model[0], model[3]
    net = torch.nn.Sequential(
        torch.nn.Linear(first.in_features, first.out_features),
        torch.nn.ReLU(),
        torch.nn.Dropout(model[2].p),
        torch.nn.Linear(last.in_features, last.out_features),
    )
    with torch.no_grad():
        for ours, theirs in ((first, net[0]), (last, net[3])):
            theirs.weight.copy_(torch.from_numpy(ours.weight.data.T.copy()))  # torch stores (out, in)
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    return net.float().eval()


def call(module: Callable[[Any], object], x: object) -> Fn:
    return lambda: module(x)


def numpy_affine(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Fn:
    return lambda: x @ w + b


def numpy_mlp(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> Fn:
    return lambda: np.maximum(x @ w1 + b1, 0) @ w2 + b2


# --------------------------------------------------------------------------------------------------
# Timing


def warm_up(fn: Fn, seconds: float) -> float:
    """Call fn for about `seconds`; return the mean time per call."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 3:
            return elapsed / calls


def time_batches(fns: dict[str, Fn], calls: int, batches: int) -> Samples:
    """Seconds per call of each fn, one value per timed batch of `calls` calls; the fns take turns."""
    samples: Samples = {name: [] for name in fns}
    order = list(fns.items())
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(batches):
            for name, fn in order if i % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                samples[name].append((time.perf_counter() - start) / calls)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


# --------------------------------------------------------------------------------------------------
# Workers: child processes that time one framework each, case by case, when the parent asks


def openblas_threads() -> int | None:
    """Threads NumPy's bundled OpenBLAS will use, read from the library itself (None if not found)."""
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    names = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads")
    for path in sorted(libs.glob("lib*openblas*.so*")):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for name in names:
            getter = getattr(lib, name, None)
            if getter is not None:
                return int(getter())
    return None


class Bench:
    """The cases one worker can time: case name -> {implementation: fn}."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.cases: dict[str, dict[str, Fn]] = {}
        self.calls: dict[str, int] = {}  # calls per timed batch, calibrated on a case's first visit
        self.info: Payload = {}

    def context(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def visit(self, case: str) -> Samples:
        fns = self.cases[case]
        with self.context():
            if case not in self.calls:
                per_call = max(warm_up(fn, 5 * self.cfg.warmup_seconds) for fn in fns.values())
                self.calls[case] = max(1, round(self.cfg.batch_seconds / per_call))
            else:
                for fn in fns.values():
                    warm_up(fn, self.cfg.warmup_seconds)
            return time_batches(fns, self.calls[case], self.cfg.batches)

    def check(self) -> Payload:
        raise NotImplementedError


class NumpyBench(Bench):
    """tinytorch and raw NumPy on the same float32 arrays: Linear(784, 256) and the whole MLP."""

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.model = build_mlp()
        linear, last = self.model[0], self.model[3]
        w1, b1, w2, b2 = linear.weight.data, linear.bias.data, last.weight.data, last.bias.data
        for batch in LINEAR_BATCHES:
            xa = make_input(batch)
            self.cases[f"linear/{batch}"] = {"tinytorch": call(linear, Tensor(xa)), "numpy": numpy_affine(xa, w1, b1)}
        for batch in SWEEP_BATCHES:
            xa = make_input(batch)
            self.cases[f"mlp/{batch}"] = {
                "tinytorch": call(self.model, Tensor(xa)),
                "numpy": numpy_mlp(xa, w1, b1, w2, b2),
            }
        self.info = {"openblas_threads": openblas_threads()}

    def check(self) -> Payload:
        out = self.model(Tensor(make_input(CHECK_BATCH)))
        return {"output": out.data.tolist(), "dtype": str(out.data.dtype)}


class TorchBench(Bench):
    """The same MLP in PyTorch, weights copied from tinytorch, eval mode, under torch.inference_mode()."""

    def __init__(self, cfg: Config, threads: int) -> None:
        super().__init__(cfg)
        import torch

        self.torch = torch
        if threads > 0:
            torch.set_num_threads(threads)
        self.net = to_torch(build_mlp())
        for batch in SWEEP_BATCHES:
            self.cases[f"mlp/{batch}"] = {"torch": call(self.net, torch.from_numpy(make_input(batch)))}
        self.info = {
            "torch_threads": torch.get_num_threads(),
            "torch_mkl": bool(torch.backends.mkl.is_available()),
            "torch_version": torch.__version__,
        }

    def context(self) -> contextlib.AbstractContextManager[Any]:
        return self.torch.inference_mode()

    def check(self) -> Payload:
        with self.context():
            out = self.net(self.torch.from_numpy(make_input(CHECK_BATCH)))
        return {"output": out.numpy().tolist(), "dtype": str(out.dtype)}


def serve(bench: Bench) -> None:
    """Answer the parent's requests, one JSON line each, until it says quit or closes the pipe."""

    def reply(payload: Payload) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    reply({"info": bench.info, "cases": list(bench.cases)})
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        reply(bench.visit(request["case"]) if request["op"] == "time" else bench.check())


def profile_worker(cfg: Config) -> Payload:
    """Nanoseconds per statement at batch 1 (timeit; best of repeats, empty-loop cost subtracted).

    The statements take turns repeat by repeat, so that a busy moment on the machine hits them all alike.
    """
    model = build_mlp()
    xa = make_input(1)
    ha = np.maximum(xa @ model[0].weight.data + model[0].bias.data, 0)
    full = {
        "np": np,
        "model": model,
        "lin": model[0],
        "relu": model[1],
        "drop": model[2],
        "lin2": model[3],
        "x": Tensor(xa),
        "xa": xa,
        "h": Tensor(ha),
        "ha": ha,
        "W1": model[0].weight.data,
        "b1": model[0].bias.data,
        "W2": model[3].weight.data,
        "b2": model[3].bias.data,
    }
    np.random.seed(SEED)
    tiny_layer = Linear(4, 4)
    tiny_x = xa[:, :4].copy()
    tiny_y = tiny_x @ tiny_layer.weight.data
    tiny = {
        "np": np,
        "Tensor": Tensor,
        "lin": tiny_layer,
        "x": Tensor(tiny_x),
        "xa": tiny_x,
        "W": tiny_layer.weight.data,
        "b": tiny_layer.bias.data,
        "ya": tiny_y,
    }
    timers = {"empty": timeit.Timer("pass")}
    timers |= {key: timeit.Timer(stmt, globals=full) for key, stmt in PROFILE_FULL.items()}
    timers |= {key: timeit.Timer(stmt, globals=tiny) for key, stmt in PROFILE_TINY.items()}
    numbers = {key: max(100, round(0.002 * 200 / max(timer.timeit(200), 1e-9))) for key, timer in timers.items()}
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(cfg.profile_repeats):
        for key, timer in timers.items():
            best[key] = min(best[key], timer.timeit(numbers[key]) / numbers[key] * 1e9)
    return {"ns": {key: max(value - best["empty"], 0.0) for key, value in best.items() if key != "empty"}}


# Statements timed by the profile worker, at batch 1. PROFILE_FULL: the benchmarked MLP and its layers.
PROFILE_FULL = {
    "mlp": "model(x)",
    "mlp_numpy": "np.maximum(xa @ W1 + b1, 0) @ W2 + b2",
    "linear1": "lin(x)",
    "linear1_numpy": "xa @ W1 + b1",
    "relu": "relu(h)",
    "relu_numpy": "np.maximum(ha, 0)",
    "dropout": "drop(h)",
    "linear2": "lin2(h)",
    "linear2_numpy": "ha @ W2 + b2",
}
# PROFILE_TINY: the pieces of Linear.forward on Linear(4, 4), where BLAS time is negligible.
PROFILE_TINY = {
    "call": "lin(x)",
    "affine_numpy": "xa @ W + b",
    "forward": "lin.forward(x)",
    "isinstance": "isinstance(x, Tensor)",
    "check": "x.shape[-1:] != (lin.in_features,)",
    "shape_property": "x.shape",
    "shape_attribute": "xa.shape",
    "arrays": "x.data @ lin.weight.data",
    "matmul_numpy": "xa @ W",
    "bias_test": "lin.bias is not None",
    "tensor_new": "Tensor(ya)",
    "asarray": "np.asarray(ya, dtype=np.float32)",
}


def worker_command(kind: str, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--threads", str(args.threads)]
    return command + (["--quick"] if args.quick else [])


def worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    if threads > 0:
        env.update({var: str(threads) for var in THREAD_VARS})
    return env


class Worker:
    """A running `--worker numpy|torch` child: send it requests, read its JSON replies."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        self.kind = kind
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            worker_command(kind, args),
            env=worker_env(args.threads),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        hello = self.receive()
        self.info: Payload = hello["info"]
        self.cases: set[str] = set(hello["cases"])

    def receive(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.seek(0)
            raise RuntimeError(f"the {self.kind} worker stopped (exit {self.proc.returncode}):\n{self.stderr.read()}")
        return json.loads(line)

    def request(self, op: str, case: str = "") -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, "case": case}) + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


@contextlib.contextmanager
def workers(kinds: Sequence[str], args: argparse.Namespace) -> Iterator[dict[str, Worker]]:
    started: dict[str, Worker] = {}
    try:
        for kind in kinds:
            started[kind] = Worker(kind, args)
        yield started
    finally:
        for worker in started.values():
            worker.close()


def run_profile(args: argparse.Namespace) -> Payload:
    proc = subprocess.run(
        worker_command("profile", args), env=worker_env(args.threads), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the profile worker failed (exit {proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class CpuMeter:
    """CPU time that processes other than this script and its children used, from /proc/stat (Linux only)."""

    def __init__(self) -> None:
        self.start = self.snapshot()

    @staticmethod
    def snapshot() -> tuple[float, float, float] | None:
        """(wall seconds, busy CPU seconds of the whole machine, CPU seconds of this process and its children)."""
        try:
            import resource  # Unix only

            ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        except (ImportError, OSError, ValueError, AttributeError):
            return None
        own = sum(
            usage.ru_utime + usage.ru_stime
            for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
        )
        return time.perf_counter(), busy, own

    def others(self) -> float | None:
        """Cores kept busy by other processes on average since the start (children must have been waited for)."""
        end = self.snapshot()
        if self.start is None or end is None:
            return None
        wall = end[0] - self.start[0]
        return max(0.0, (end[1] - self.start[1]) - (end[2] - self.start[2])) / wall if wall > 0 else None


# --------------------------------------------------------------------------------------------------
# Statistics and printing


@dataclass(frozen=True)
class Stat:
    median: float
    q25: float
    q75: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        q25, median, q75 = np.percentile(np.asarray(values, dtype=np.float64), [25, 50, 75])
        return cls(float(median), float(q25), float(q75))

    def us(self) -> str:
        return f"{self.median * 1e6:.2f}"

    def ratio(self) -> str:
        return f"{self.median:.3f} [{self.q25:.3f}, {self.q75:.3f}]"


Visits = dict[str, dict[str, list[Samples]]]  # case -> worker kind -> one Samples per visit


def times(visits: Visits, case: str, kind: str, impl: str) -> list[float]:
    """Every timed batch of one implementation, over all visits."""
    return [t for visit in visits[case][kind] for t in visit[impl]]


def paired_ratios(visits: Visits, case: str) -> list[float]:
    """tinytorch time / NumPy time, batch pair by batch pair (they take turns in the same process)."""
    return [
        ours / numpy
        for visit in visits[case]["numpy"]
        for ours, numpy in zip(visit["tinytorch"], visit["numpy"], strict=True)
    ]


def round_ratios(visits: Visits, case: str) -> list[float]:
    """PyTorch time / tinytorch time, one value per round: the medians of two back-to-back visits."""
    return [
        float(np.median(theirs["torch"]) / np.median(ours["tinytorch"]))
        for ours, theirs in zip(visits[case]["numpy"], visits[case]["torch"], strict=True)
    ]


def verdict(stat: Stat, bound: float, at_most: bool) -> str:
    met = stat.median <= bound if at_most else stat.median >= bound
    clear = (
        (stat.q75 <= bound if at_most else stat.q25 >= bound)
        if met
        else (stat.q25 > bound if at_most else stat.q75 < bound)
    )
    word = "MET" if met else "MISSED"
    return word if clear else f"{word} (IQR straddles target)"


def target_rows(
    visits,
    kind: str,
    ratios: dict[int, Stat],
    baseline: tuple[str, str],
    targets: dict[int, float],
    name: str,
    ratio_name: str,
    summary: list[str],
) -> list[list[str]]:
    """Table rows of one targeted comparison (a row per batch in `ratios`), and a summary line per target.

    Linear targets bound tinytorch's time relative to NumPy from above ("<="); MLP targets bound its speed-up over
    PyTorch from below (">=").
    """
    rows = []
    for batch, ratio in ratios.items():
        case, bound = f"{kind}/{batch}", targets.get(batch)
        at_most = kind == "linear"
        target = (f"<= {bound:.2f}" if at_most else f">= {bound:.1f}") if bound else "-"
        rows.append(
            [
                str(batch),
                Stat.of(times(visits, case, "numpy", "tinytorch")).us(),
                Stat.of(times(visits, case, *baseline)).us(),
                ratio.ratio(),
                target,
                verdict(ratio, bound, at_most=at_most) if bound else "-",
            ]
        )
        if bound:
            summary.append(f"{name} batch {batch:>3}: {ratio_name} {ratio.ratio()}, target {target}: {rows[-1][-1]}")
    return rows


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).rjust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 1) + ":" for width in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def heading(text: str) -> None:
    print(f"\n## {text}\n")


# --------------------------------------------------------------------------------------------------
# float32 hygiene (no timing: runs in the parent)


def hygiene_checks() -> list[tuple[str, bool, str]]:
    """(description, passed, detail) for each place where float32 could be promoted to float64."""
    np.random.seed(SEED)
    linear = Linear(IN_FEATURES, HIDDEN)
    x32 = Tensor(make_input(4))
    ints = np.arange(4 * IN_FEATURES).reshape(4, IN_FEATURES) % 7 - 3
    bools = ints > 0
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("Linear.weight", lambda: linear.weight),
        ("Linear.bias", lambda: linear.bias),
        ("Linear(float32 Tensor)", lambda: linear(x32)),
        ("Tensor(int64 ndarray) (converted on entry)", lambda: Tensor(ints)),
        ("Linear(Tensor(int64 ndarray))", lambda: linear(Tensor(ints))),
        ("Linear(Tensor(int64 ndarray, dtype=np.int64))", lambda: linear(Tensor(ints, dtype=np.int64))),
        ("Linear(Tensor(bool ndarray))", lambda: linear(Tensor(bools))),
        ("Linear(Tensor(bool ndarray, dtype=bool))", lambda: linear(Tensor(bools, dtype=bool))),
        ("Linear(Tensor(nested Python int list))", lambda: linear(Tensor(ints.tolist()))),
        ("x * 2.0", lambda: x32 * 2.0),
        ("Linear(x * 2.0)", lambda: linear(x32 * 2.0)),
        ("Linear(2.0 * x)", lambda: linear(2.0 * x32)),
        ("Linear(x * 3)", lambda: linear(x32 * 3)),
        ("Linear(x / 3.0)", lambda: linear(x32 / 3.0)),
        ("Linear(1.0 - x)", lambda: linear(1.0 - x32)),
        ("Linear(-x)", lambda: linear(-x32)),
        ("Linear(x * np.float64(2.0))", lambda: linear(x32 * np.float64(2.0))),
        ("ReLU(float32 Tensor)", lambda: ReLU()(x32)),
        ("Dropout(0.5) in train mode", lambda: Dropout(0.5).train()(x32)),
        ("Dropout(0.3) in train mode", lambda: Dropout(0.3).train()(x32)),
        ("Dropout(1.0) in train mode", lambda: Dropout(1.0).train()(x32)),
        ("Dropout(0.5)(x, training=True)", lambda: Dropout(0.5).eval()(x32, training=True)),
        ("Dropout(0.5) in eval mode", lambda: Dropout(0.5).eval()(x32)),
        ("MLP in train mode", lambda: build_mlp().train()(x32)),
        ("MLP in eval mode", lambda: build_mlp()(x32)),
    ]
    results = []
    for description, make in cases:
        try:
            out = make()
            dtype = out.data.dtype if isinstance(out, Tensor) else np.asarray(out).dtype
            results.append(
                (description, dtype == np.float32 and isinstance(out, Tensor), f"{type(out).__name__} {dtype}")
            )
        except Exception as error:  # a crash is a failed check, reported with its message
            results.append((description, False, f"raised {type(error).__name__}: {error}"))
    return results


# --------------------------------------------------------------------------------------------------
# Environment


def environment_lines(threads: int, torch_info: Payload | None, openblas: int | None) -> list[str]:
    blas = "unknown"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name', '?')} {info.get('version', '?')}"
    except Exception:  # older NumPy: the BLAS name is only informative
        pass
    cpu_model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for text in cpuinfo.read_text().splitlines():
            if text.startswith("model name"):
                cpu_model = text.split(":", 1)[1].strip()
                break
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    setting = (
        "library defaults (thread variables left as found: "
        + ", ".join(f"{var}={os.environ.get(var, 'unset')}" for var in THREAD_VARS)
        + ")"
        if threads == 0
        else f"{threads} for both: "
        + ", ".join(f"{var}={threads}" for var in THREAD_VARS)
        + f", torch.set_num_threads({threads})"
    )
    lines = [
        f"python   {platform.python_version()} on {platform.system()} {platform.machine()}",
        f"cpu      {cpu_model}; os.cpu_count()={os.cpu_count()}, usable by this process={affinity}",
        f"numpy    {np.__version__}, BLAS: {blas}",
    ]
    if torch_info is not None:
        mkl = "MKL" if torch_info["torch_mkl"] else "no MKL"
        lines.append(f"torch    {torch_info['torch_version']} ({mkl})")
    else:
        lines.append("torch    not installed: PyTorch comparisons skipped (pip install -e '.[bench]')")
    resolved = f"NumPy's OpenBLAS={openblas if openblas is not None else 'unknown'}"
    if torch_info is not None:
        resolved += f", torch.get_num_threads()={torch_info['torch_threads']}"
    lines += [f"threads  {setting}", f"         seen in the workers: {resolved}"]
    return lines


def load_average() -> str:
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --------------------------------------------------------------------------------------------------
# Outputs of the batch-size sweep


def sweep_rows(visits: Visits, has_torch: bool) -> list[dict[str, float]]:
    rows = []
    for batch in SWEEP_BATCHES:
        case = f"mlp/{batch}"
        row: dict[str, float] = {"batch_size": batch}
        impls = [("numpy", "tinytorch"), ("numpy", "numpy")] + ([("torch", "torch")] if has_torch else [])
        for kind, impl in impls:
            stat = Stat.of(times(visits, case, kind, impl))
            row[f"{impl}_us"] = stat.median * 1e6
            row[f"{impl}_us_q25"] = stat.q25 * 1e6
            row[f"{impl}_us_q75"] = stat.q75 * 1e6
            row[f"{impl}_samples_per_s"] = batch / stat.median
        row["tinytorch_over_numpy"] = Stat.of(paired_ratios(visits, case)).median
        if has_torch:
            row["torch_over_tinytorch"] = Stat.of(round_ratios(visits, case)).median
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, float]], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {key: (f"{value:.6g}" if isinstance(value, float) else value) for key, value in row.items()}
            )


def write_plot(rows: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = np.array([row["batch_size"] for row in rows])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"tinytorch": ("tinytorch", "o-"), "numpy": ("raw NumPy", "s--"), "torch": ("PyTorch (CPU)", "^-")}
    for impl, (label, style) in styles.items():
        if f"{impl}_us" not in rows[0]:
            continue
        median = np.array([row[f"{impl}_us"] for row in rows])
        slow, fast = (np.array([row[f"{impl}_us_{q}"] for row in rows]) for q in ("q75", "q25"))
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


def print_profile(ns: dict[str, float]) -> None:
    """Section 4: the batch-1 overhead of tinytorch over raw NumPy, piece by piece."""
    heading("4. Where the overhead goes at batch 1 (timeit, best of repeats, ns per call)")

    def line(label: str, value: float, note: str = "") -> None:
        print(f"  {label:<58} {value:>8,.0f} ns{note}")

    def overhead(ours: str, numpy: str) -> float:
        return ns[ours] - ns[numpy]

    print("Linear(784, 256):")
    line("lin(x)", ns["linear1"])
    line("xa @ W + b", ns["linear1_numpy"])
    pct = 100 * overhead("linear1", "linear1_numpy") / ns["linear1_numpy"]
    line("overhead", overhead("linear1", "linear1_numpy"), f"  (+{pct:.0f}% of the NumPy work)")
    print("pieces, timed on Linear(4, 4) (Python work does not depend on the size):")
    dispatch, data = overhead("call", "forward"), overhead("arrays", "matmul_numpy")
    line("Module.__call__ -> forward (*args/**kwargs)", dispatch)
    line("isinstance(x, Tensor)", ns["isinstance"])
    line("input check x.shape[-1:] != (in_features,)", ns["check"])
    line("  of which Tensor.shape property over ndarray.shape", overhead("shape_property", "shape_attribute"))
    line(".data of the input and of the weight", data)
    line("bias is not None", ns["bias_test"])
    line("one Tensor(float32 ndarray) construction, for the output", ns["tensor_new"])
    line("  of which np.asarray(a, dtype=np.float32)", ns["asarray"])
    pieces = dispatch + ns["isinstance"] + ns["check"] + data + ns["bias_test"] + ns["tensor_new"]
    line("sum of the pieces", pieces)
    line("measured: lin(x) - (xa @ W + b) on Linear(4, 4)", overhead("call", "affine_numpy"))
    print("MLP (Linear, ReLU, Dropout, Linear) in eval mode:")
    line("model(x)", ns["mlp"])
    line("raw NumPy MLP", ns["mlp_numpy"])
    total = overhead("mlp", "mlp_numpy")
    line("overhead", total, f"  (+{100 * total / ns['mlp_numpy']:.0f}% of the NumPy work)")
    parts = {
        "Linear(784, 256) overhead": overhead("linear1", "linear1_numpy"),
        "ReLU overhead: relu(h) - np.maximum(h, 0)": overhead("relu", "relu_numpy"),
        "Dropout in eval mode: drop(h) (NumPy does nothing)": ns["dropout"],
        "Linear(256, 10) overhead": overhead("linear2", "linear2_numpy"),
    }
    for label, value in parts.items():
        line(f"  {label}", value)
    line("  Sequential loop and the rest", total - sum(parts.values()))


# --------------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds and short batches; writes no results")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for NumPy's BLAS and PyTorch alike (default 1; 0 = leave the libraries' defaults)",
    )
    parser.add_argument("--rounds", type=int, help="visits of every case per process (default 40; 4 with --quick)")
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    parser.add_argument("--worker", choices=["numpy", "profile", "torch"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(args: argparse.Namespace, cfg: Config, kinds: Sequence[str]) -> tuple[Visits, dict[str, Payload]]:
    """Visit every case `cfg.rounds` times, the workers taking turns; also fetch each worker's check output.

    With one thread per library the workers alternate case by case. With more, an idle library's threads
    keep spinning for a while after its last call (OpenBLAS for about 0.1 s) and would slow the other
    process down, so each worker then runs all its cases in a block, and the switch waits SETTLE_SECONDS.
    """
    visits: Visits = {case: {kind: [] for kind in kinds} for case in CASES}
    settle = 0.0 if args.threads == 1 else SETTLE_SECONDS
    with workers(kinds, args) as running:
        info = {kind: {**worker.info, "check": worker.request("check")} for kind, worker in running.items()}
        started = time.perf_counter()
        previous: Worker | None = None
        for index in range(cfg.rounds):
            order = list(running.values()) if index % 2 == 0 else list(running.values())[::-1]
            if settle:
                schedule = [(case, worker) for worker in order for case in CASES]
            else:
                schedule = [(case, worker) for case in CASES for worker in order]
            for case, worker in schedule:
                if case not in worker.cases:
                    continue
                if settle and previous not in (None, worker):
                    time.sleep(settle)
                previous = worker
                visits[case][worker.kind].append(worker.request("time", case))
            if (index + 1) % max(1, cfg.rounds // 6) == 0 or index + 1 == cfg.rounds:
                elapsed = time.perf_counter() - started
                print(f"round {index + 1}/{cfg.rounds} done after {elapsed:.0f} s; load average {load_average()}")
    return visits, info


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if args.rounds:
        cfg = Config(args.rounds, cfg.batches, cfg.batch_seconds, cfg.warmup_seconds, cfg.profile_repeats)
    if args.worker == "profile":
        print(json.dumps(profile_worker(cfg)))
        return 0
    if args.worker:
        serve(NumpyBench(cfg) if args.worker == "numpy" else TorchBench(cfg, args.threads))
        return 0

    started = time.perf_counter()
    load_at_start = load_average()
    has_torch = importlib.util.find_spec("torch") is not None
    kinds = ["numpy", "torch"] if has_torch else ["numpy"]
    failures = 0
    summary: list[str] = []
    print("# tinytorch speed benchmark" + (" (--quick)" if args.quick else ""))

    heading("float32 hygiene")
    for description, passed, detail in hygiene_checks():
        failures += not passed
        print(f"{'OK  ' if passed else 'FAIL'} {description:<48} -> {detail}")
    promoted = np.result_type(np.int64, np.float32)
    print(
        f"note: NumPy promotes int64 @ float32 to {promoted}; tinytorch casts that result back to float32, so an "
        "explicitly integer-typed Tensor costs a float64 matmul plus a cast (the default Tensor(ints) is float32)."
    )

    turns = "case by case" if args.threads == 1 else "in blocks"
    heading(f"Measuring: {cfg.rounds} rounds, the {' and '.join(kinds)} processes taking turns {turns}")
    meter = CpuMeter()
    visits, info = measure(args, cfg, kinds)
    profile = run_profile(args)
    others = meter.others()

    heading("Environment")
    for text in environment_lines(args.threads, info.get("torch"), info["numpy"]["openblas_threads"]):
        print(text)
    print(f"load     average (1, 5, 15 min) at start: {load_at_start}; at end: {load_average()}")
    if others is not None:
        print(f"others   other processes kept {others:.2f} of {os.cpu_count()} cores busy on average while measuring")
        if others > 0.25:
            print("WARNING  the machine was busy: other processes competed for the cores; expect noisy ratios")
    print(
        f"method   {cfg.rounds} rounds; per case and visit {cfg.batches} timed batches of "
        f"~{cfg.batch_seconds * 1e3:.0f} ms after {cfg.warmup_seconds * 1e3:.0f} ms of warm-up; gc off while timing\n"
        "         times: median over all batches [IQR]\n"
        "         tinytorch/NumPy: ratio per batch pair (same process, taking turns)\n"
        "         PyTorch/tinytorch: ratio of the medians of two back-to-back visits, one per round\n"
        "         PyTorch runs under torch.inference_mode(), entered once per visit outside the timed loop"
    )
    if args.threads != 1:
        print(
            f"         more than one thread: each process runs all its cases per round in a block, "
            f"with a {SETTLE_SECONDS} s pause at each switch (idle BLAS threads spin)"
        )

    if has_torch:
        reference = np.asarray(info["torch"]["check"]["output"], dtype=np.float32)
        ours = np.asarray(info["numpy"]["check"]["output"], dtype=np.float32)
        same = ours.shape == reference.shape and np.allclose(ours, reference, rtol=1e-4, atol=1e-5)
        failures += not same
        print(
            f"\n{'OK  ' if same else 'FAIL'} tinytorch and PyTorch MLPs agree on a batch of {CHECK_BATCH} "
            f"(separate processes, same seeds): max |diff| = {np.max(np.abs(ours - reference)):.2e}; "
            f"dtypes {info['numpy']['check']['dtype']} and {info['torch']['check']['dtype']}"
        )

    heading("1. Linear(784, 256) forward vs raw NumPy `x @ W + b` (same float32 arrays)")
    ratios = {b: Stat.of(paired_ratios(visits, f"linear/{b}")) for b in LINEAR_BATCHES}
    rows = target_rows(
        visits, "linear", ratios, ("numpy", "numpy"), LINEAR_TARGETS, "Linear", "tinytorch/NumPy", summary
    )
    headers = ["batch", "tinytorch µs", "NumPy µs", "tinytorch / NumPy [IQR]", "target", "verdict"]
    print(markdown_table(headers, rows))

    heading("2. MLP 784-256-10 (Linear, ReLU, Dropout, Linear), eval mode, vs PyTorch CPU")
    if has_torch:
        ratios = {b: Stat.of(round_ratios(visits, f"mlp/{b}")) for b in SWEEP_BATCHES}
        rows = target_rows(visits, "mlp", ratios, ("torch", "torch"), MLP_TARGETS, "MLP", "PyTorch/tinytorch", summary)
        headers = ["batch", "tinytorch µs", "PyTorch µs", "PyTorch / tinytorch [IQR]", "target", "verdict"]
        print(markdown_table(headers, rows))
    else:
        print("skipped: torch is not installed")

    heading("3. Batch-size sweep: MLP eval throughput (samples/s, median)")
    sweep = sweep_rows(visits, has_torch)
    headers = ["batch", "tinytorch", "raw NumPy"] + (["PyTorch"] if has_torch else []) + ["tinytorch/NumPy time"]
    headers += ["tinytorch speed-up vs PyTorch"] if has_torch else []
    rows = []
    for row in sweep:
        cells = [
            str(int(row["batch_size"])),
            f"{row['tinytorch_samples_per_s']:,.0f}",
            f"{row['numpy_samples_per_s']:,.0f}",
        ]
        cells += [f"{row['torch_samples_per_s']:,.0f}"] if has_torch else []
        cells += [f"{row['tinytorch_over_numpy']:.2f}"]
        cells += [f"{row['torch_over_tinytorch']:.2f}x"] if has_torch else []
        rows.append(cells)
    print(markdown_table(headers, rows))
    if args.quick or args.no_save:
        print("\n(results not saved: --quick or --no-save)")
    else:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        write_csv(sweep, RESULTS_DIR / "batch_sweep.csv")
        threads = "library-default threads" if args.threads == 0 else f"{args.threads} thread(s) each"
        title = f"numpy {np.__version__}" + (f", torch {info['torch']['torch_version']}" if has_torch else "")
        write_plot(sweep, RESULTS_DIR / "batch_sweep.png", f"{title}; {threads}; {os.cpu_count()} CPUs")
        print(f"\nsaved {RESULTS_DIR / 'batch_sweep.csv'} and {RESULTS_DIR / 'batch_sweep.png'}")

    print_profile(profile["ns"])

    heading("Summary")
    print(f"float32 hygiene and output agreement: {'all OK' if not failures else f'{failures} FAILED'}")
    for text in summary:
        print(text)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s; load average at end {load_average()}")
    if failures:
        print(f"{failures} correctness check(s) FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
