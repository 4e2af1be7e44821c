"""The timing harness the benchmarks share: contenders in separate processes, taking turns; medians and IQRs.

A *contender* is one way of doing the work (tinytorch, raw NumPy, PyTorch; our grader, plain nbgrader). Each one
runs in a process of its own, so that no library's thread pool or allocator gets in another's way: a `Worker` is
a long-lived child process that times named cases when asked, a `Command` is a program run afresh per visit and
timed as a whole. `take_turns` visits every case with every contender, round after round, in alternating order
(A B C, then C B A), so that a slow phase of a shared machine hits them all alike. `Results` gives medians with
their interquartile range (IQR), and ratios to a baseline taken round by round between visits made one right
after the other. Nothing here asserts anything about speed.

Also shared: equal thread counts for every library (`equalise_threads`), what NumPy and PyTorch run on
(`numpy_description`, `torch_description`), `verdict`, `best_ns` for profiling single statements, and the
floor of the training benchmarks, an MLP's gradients written by hand in NumPy (`mlp_gradients_by_hand`), the
same MLP in PyTorch (`mlp_to_torch`) and the figures of a first training step that show equal work (`step_figures`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import multiprocessing
import os
import resource
import subprocess
import time
import timeit
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from statistics import median, quantiles
from typing import Any, Protocol

import numpy as np

Fn = Callable[[], object]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
SETTLE_SECONDS = 0.3  # pause at each switch of process when the libraries run more than one thread each


@dataclass(frozen=True)
class Stat:
    median: float
    q25: float
    q75: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        if len(values) == 1:
            return cls(values[0], values[0], values[0])
        q25, mid, q75 = quantiles(values, n=4, method="inclusive")
        return cls(mid, q25, q75)

    def text(self, digits: int = 2, scale: float = 1.0) -> str:
        """'median [q25, q75]', each multiplied by `scale`."""
        return f"{self.median * scale:.{digits}f} [{self.q25 * scale:.{digits}f}, {self.q75 * scale:.{digits}f}]"


class Contender(Protocol):
    name: str
    rounds: int | None  # visited in the first `rounds` rounds only (None: every round)

    @property
    def cases(self) -> set[str]: ...

    def visit(self, case: str) -> list[float]: ...  # seconds: one value per timed batch (or run)


class Cases:
    """What a Worker's process holds: named cases, each a zero-argument callable, timed in batches of calls.

    On a case's first visit it warms up 5x longer and picks the calls per batch that make a batch last about
    `batch_seconds`; every visit then warms up and times `batches` batches with the garbage collector off.
    `context` (e.g. torch.inference_mode) is entered once per visit, outside the timed loops; `contexts` gives some
    cases another one (a training step must not run in inference mode).
    """

    def __init__(
        self,
        cases: dict[str, Fn],
        batches: int = 5,
        batch_seconds: float = 0.004,
        warmup_seconds: float = 0.01,
        context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
        contexts: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]] | None = None,
    ) -> None:
        self.cases, self.context, self.contexts = cases, context, contexts or {}
        self.batches, self.batch_seconds, self.warmup_seconds = batches, batch_seconds, warmup_seconds
        self.calls: dict[str, int] = {}

    def names(self) -> list[str]:
        return list(self.cases)

    def visit(self, case: str) -> list[float]:
        fn = self.cases[case]
        with self.contexts.get(case, self.context)():
            per_call = warm_up(fn, self.warmup_seconds * (1 if case in self.calls else 5))
            calls = self.calls.setdefault(case, max(1, round(self.batch_seconds / per_call)))
            gc.disable()
            try:
                return [time_calls(fn, calls) for _ in range(self.batches)]
            finally:
                gc.enable()


def warm_up(fn: Fn, seconds: float) -> float:
    """Call fn for about `seconds` (3 calls at least); return the mean time per call."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls < 3:
        fn()
        calls += 1
    return elapsed / calls


def time_calls(fn: Fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _serve(build: Callable[..., Any], args: tuple, connection: Any) -> None:
    """A Worker's child: build the target, then run requests until told to stop (None): a method of the target,
    by name, or a module-level function."""
    target = build(*args)
    while (request := connection.recv()) is not None:
        what, what_args = request
        connection.send((getattr(target, what) if isinstance(what, str) else what)(*what_args))


class Worker:
    """A contender in a child process of its own (spawned: a fresh interpreter that reads the environment, e.g.
    thread counts, as it is now). `build(*args)` runs there and returns the target, usually a `Cases`;
    `call(what, *args)` runs there the target's method named `what`, or `what` itself if it is a module-level
    function, and returns its (picklable) result."""

    rounds = None  # visited in every round

    def __init__(self, name: str, build: Callable[..., Any], *args: Any) -> None:
        self.name = name
        context = multiprocessing.get_context("spawn")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(build, args, child_end), name=name)
        self.process.start()
        child_end.close()

    def call(self, what: str | Callable[..., Any], *args: Any) -> Any:
        try:
            self.connection.send((what, args))
            return self.connection.recv()
        except (EOFError, BrokenPipeError) as error:  # its traceback went to stderr
            self.process.join()
            raise RuntimeError(f"the {self.name} worker stopped (exit code {self.process.exitcode})") from error

    @cached_property
    def cases(self) -> set[str]:
        return set(self.call("names"))

    def visit(self, case: str) -> list[float]:
        return self.call("visit", case)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.process.join(timeout=30)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()


class Command:
    """A contender that runs `argv` afresh on every visit of its one case, "run", timed as a whole (start-up
    included). Each completed run is kept in `runs` for the caller to read; a run that fails stops the benchmark
    with its output."""

    def __init__(
        self, name: str, argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, rounds: int | None = None
    ) -> None:
        self.name, self.argv, self.cwd, self.env, self.rounds = name, list(argv), cwd, env, rounds
        self.runs: list[subprocess.CompletedProcess] = []
        self.cases = {"run"}

    def visit(self, case: str) -> list[float]:
        start = time.perf_counter()
        done = subprocess.run(self.argv, cwd=self.cwd, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(
                f"{self.name} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
        self.runs.append(done)
        return [seconds]

    def close(self) -> None:
        pass


@contextlib.contextmanager
def running(contenders: Iterable[Worker | Command]):
    """Close every contender at the end (workers are joined, so that CpuMeter counts their CPU time)."""
    contenders = list(contenders)
    try:
        yield contenders
    finally:
        for contender in contenders:
            contender.close()


class Results:
    """Every visit's samples: (case, contender name) -> round -> seconds."""

    def __init__(self) -> None:
        self.visits: dict[tuple[str, str], dict[int, list[float]]] = {}

    def add(self, case: str, name: str, round_: int, samples: list[float]) -> None:
        self.visits.setdefault((case, name), {})[round_] = samples

    def samples(self, case: str, name: str) -> list[float]:
        """Every sample of every visit, in order."""
        return [t for samples in self.visits[case, name].values() for t in samples]

    def time(self, case: str, name: str) -> Stat:
        """Over every sample of every visit."""
        return Stat.of(self.samples(case, name))

    def ratio(self, case: str, name: str, baseline: str) -> Stat:
        """`name`'s time / `baseline`'s time, one value per round: the medians of that round's two visits. In the
        rounds it skipped, a contender visited in fewer rounds (plain nbgrader runs once) stands in with the median
        of all its samples."""

        def at(who: str, round_: int) -> float:
            samples = self.visits[case, who].get(round_)
            return median(samples) if samples else self.time(case, who).median

        rounds = sorted(self.visits[case, name].keys() | self.visits[case, baseline].keys())
        return Stat.of([at(name, r) / at(baseline, r) for r in rounds])


def take_turns(contenders: Sequence[Contender], cases: Sequence[str], rounds: int, settle: float = 0.0) -> Results:
    """Visit every case with every contender that has it, `rounds` times, in alternating order; print progress.

    Case by case (A B, A B, ... for each case in turn) unless `settle` > 0: then each contender visits all its
    cases in a block and the harness waits `settle` seconds at each switch, for libraries whose idle threads keep
    spinning for a while after their last call (OpenBLAS: about 0.1 s) and would slow the next process down.
    """
    results, previous, started = Results(), None, time.perf_counter()
    for round_ in range(rounds):
        order = [c for c in (contenders if round_ % 2 == 0 else contenders[::-1]) if round_ < (c.rounds or rounds)]
        if settle:
            schedule = [(case, c) for c in order for case in cases if case in c.cases]
        else:
            schedule = [(case, c) for case in cases for c in order if case in c.cases]
        for case, contender in schedule:
            if settle and previous not in (None, contender):
                time.sleep(settle)
            previous = contender
            results.add(case, contender.name, round_, contender.visit(case))
        if (round_ + 1) % max(1, rounds // 5) == 0 or round_ + 1 == rounds:
            elapsed = time.perf_counter() - started
            print(f"round {round_ + 1}/{rounds} done after {elapsed:.0f} s; load average {load_average()}", flush=True)
    return results


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        aligned = [cells[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)
        ]
        return "| " + " | ".join(aligned) + " |"

    rule = "|:" + "-" * (widths[0] + 1) + "|" + "".join("-" * (width + 1) + ":|" for width in widths[1:])
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class CpuMeter:
    """Cores that processes other than this script and its (waited-for) children kept busy, from /proc/stat."""

    def __init__(self) -> None:
        self.start = self.snapshot()

    @staticmethod
    def snapshot() -> tuple[float, float, float] | None:
        """(wall seconds, busy CPU seconds of the whole machine, CPU seconds of this process and its children)."""
        try:
            ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except OSError:  # not Linux
            return None
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        usages = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter(), busy, sum(usage.ru_utime + usage.ru_stime for usage in usages)

    def others(self) -> str:
        """'N.NN of C cores busy with other processes', plus a warning when that makes the figures noisy."""
        end = self.snapshot()
        if self.start is None or end is None:
            return "unknown (no /proc/stat)"
        wall, busy, own = (b - a for a, b in zip(self.start, end, strict=True))
        others = max(0.0, busy - own) / wall
        warning = "; WARNING: the machine was busy, expect noisy figures" if others > 0.25 else ""
        return f"{others:.2f} of {os.cpu_count()} cores busy with other processes while measuring{warning}"


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """--threads N, for equalise_threads."""
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for NumPy's BLAS and PyTorch alike (default 1; 0 = leave the libraries' defaults)",
    )


def equalise_threads(threads: int) -> float:
    """Make the BLAS and OpenMP libraries of every worker spawned from now on run `threads` threads (0: leave their
    defaults); PyTorch's workers must also call torch.set_num_threads. Returns the `settle` for take_turns."""
    if threads > 0:  # read by the workers' libraries when they load
        os.environ.update(dict.fromkeys(THREAD_VARS, str(threads)))
    return 0.0 if threads == 1 else SETTLE_SECONDS


def numpy_description() -> str:
    """NumPy's version, BLAS, and the threads its bundled OpenBLAS uses, read from the library itself."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    threads = "unknown"
    for path in sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("lib*openblas*.so*")):
        lib = ctypes.CDLL(str(path))
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            if hasattr(lib, name):
                threads = getattr(lib, name)()
    return f"numpy {np.__version__}, BLAS {blas.get('name')} {blas.get('version')}, {threads} thread(s)"


def torch_description() -> str:
    import torch

    mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    return f"torch {torch.__version__} ({mkl}), {torch.get_num_threads()} thread(s)"


def verdict(ratio: Stat, bound: float, at_most: bool) -> str:
    """'met' or 'MISSED' from the median ratio against `bound` (an upper bound if `at_most`, else a lower one)."""
    met = ratio.median <= bound if at_most else ratio.median >= bound
    return ("met" if met else "MISSED") + (" (IQR straddles target)" if ratio.q25 <= bound <= ratio.q75 else "")


def best_ns(statements: Sequence[str], names: dict[str, Any], repeats: int) -> dict[str, float]:
    """Nanoseconds per statement: best of `repeats`, the statements taking turns, the empty loop's cost subtracted."""
    timers = {s: timeit.Timer(s, globals=names) for s in [*statements, "pass"]}
    numbers = {s: max(100, round(0.002 * 200 / max(timer.timeit(200), 1e-9))) for s, timer in timers.items()}
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(repeats):
        for s, timer in timers.items():
            best[s] = min(best[s], timer.timeit(numbers[s]) / numbers[s] * 1e9)
    return {s: ns - best["pass"] for s, ns in best.items()}


def mlp_gradients_by_hand(
    x: np.ndarray, targets: np.ndarray, params: Sequence[np.ndarray], keep_prob: float
) -> tuple[float, list[np.ndarray]]:
    """Linear, ReLU, Dropout(1 - keep_prob), Linear and CrossEntropyLoss, forward and backward, written by hand in
    NumPy: no graph, no wrappers, no gradient for the input, ReLU's and Dropout's masks fused. What a NumPy-backed
    library could reach at best.

    x (N, in), targets (N,) class indices, params = [w1 (in, hidden), b1 (hidden,), w2 (hidden, out), b2 (out,)]
    (float32). Dropout draws its mask as tinytorch's does, `np.random.random((N, hidden)) < keep_prob`, so that with
    the same seed both drop the same units; keep_prob 1 draws nothing. Returns the mean loss and the gradients of
    the params, in their order.
    """
    w1, b1, w2, b2 = params
    batch, rows = len(x), np.arange(len(x))
    hidden = x @ w1 + b1
    active = hidden > 0
    if keep_prob < 1:
        active &= np.random.random(hidden.shape) < keep_prob
    scale = active / np.float32(keep_prob)  # ReLU's and Dropout's masks in one
    activation = hidden * scale
    logits = activation @ w2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    grad = np.exp(log_probs)
    grad[rows, targets] -= 1
    grad /= batch
    grad_hidden = (grad @ w2.T) * scale
    grads = [np.dot(x.T, grad_hidden), grad_hidden.sum(axis=0), np.dot(activation.T, grad), grad.sum(axis=0)]
    return float(-log_probs[rows, targets].mean()), grads


def mlp_to_torch(model: Any) -> Any:
    """tinytorch's Sequential(Linear, ReLU, Dropout, Linear) as the same torch.nn.Sequential, float32, with the
    weights and biases copied in and the model's train/eval mode."""
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
    return net.float().train(model.training)


def step_figures(step: Callable[[], Any], params: Sequence[Any]) -> np.ndarray:
    """The loss, the global gradient norm and the loss after the update, of the first call of a training `step`
    (which zeroes the gradients, runs forward and backward, updates `params` and returns the loss), for checking
    that two libraries do the same work."""
    loss = float(np.asarray(step().data))  # .data: a tinytorch Tensor's array, a torch tensor without its graph
    norm = np.sqrt(sum(float((np.asarray(param.grad.data) ** 2).sum()) for param in params))
    return np.array([loss, norm, float(np.asarray(step().data))])
