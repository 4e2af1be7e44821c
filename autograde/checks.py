"""The trusted checks: one per graded notebook cell (same name as its grade_id, same points) plus hidden-only ones.

Each check names a probe (autograde/probes/<component module>.py, run on the student's package in the sandbox) and
a judge that runs here, in the grader, on the arrays the probe returned and the module's fixture (inputs, reference
outputs, tolerances, labels). Judges are built from rules, functions `(outputs, fixture) -> list of problems`:
`expected_outputs` compares every stored reference output, the others check what has no single right answer
(random weights, dropout masks) by recomputing from the returned weights or with statistical bounds whose chance of
failing a correct implementation is below 1e-9 per check, whatever random numbers it draws.

Imports numpy and the stdlib only; never tinytorch.
"""

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .compare import diff, shape_note

Arrays = dict[str, np.ndarray]
FIXTURES = Path(__file__).parent / "fixtures"
PROBES = Path(__file__).parent / "probes"
PROBE_MODULES = {"01_tensor": "tensor", "02_activations": "activations", "03_layers": "layers"}
FAIL_PROB = 1e-10  # per statistical comparison; no check makes more than 10, so a correct layer fails < 1e-9
MAX_PROBLEMS = 4  # problems listed in one feedback


@dataclass(frozen=True)
class Fixture:
    """One probe's trusted data: inputs (the only part the sandbox sees) and the reference's outputs."""

    inputs: Arrays
    expected: Arrays
    rtol: float = 0.0
    atol: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    score: float  # 0 or the check's points
    feedback: str  # student-facing


# A rule returns the problems it finds in a probe's outputs; a check passes when its rules find none.
Rule = Callable[[Arrays, Fixture], list[str]]


@dataclass(frozen=True)
class Check:
    name: str  # == grade_id of the notebook cell it scores
    module: str
    points: float
    title: str
    hint: str
    probe: str  # function in autograde/probes/<PROBE_MODULES[module]>.py
    rules: tuple[Rule, ...]


# --------------------------------------------------------------------------- fixtures


def digest(a: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    a = np.asarray(a, order="C")
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def load_fixtures(module: str, root: Path = FIXTURES) -> dict[str, Fixture]:
    """The module's fixtures by probe name, each array checked against the manifest's checksum."""
    meta = json.loads((root / "manifest.json").read_text())["modules"][module]
    with np.load(root / meta["file"], allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    fixtures = {}
    for probe, entry in meta["entries"].items():
        parts: dict[str, Arrays] = {"in": {}, "out": {}}
        order = [f"in/{k}" for k in entry["inputs"]] + [f"out/{k}" for k in entry["outputs"]]
        for key in order:
            a = arrays[f"{probe}/{key}"]
            if digest(a) != entry["arrays"][key]["sha256"]:
                raise ValueError(f"fixture {module}/{probe}/{key} does not match its checksum")
            a.setflags(write=False)
            part, name = key.split("/", 1)
            parts[part][name] = a
        fixtures[probe] = Fixture(parts["in"], parts["out"], entry["rtol"], entry["atol"], entry["labels"])
    return fixtures


def probe_file(module: str) -> Path:
    return PROBES / f"{PROBE_MODULES[module]}.py"


# --------------------------------------------------------------------------- verdicts


def text(a: np.ndarray) -> str:
    return bytes(np.asarray(a, dtype=np.uint8).ravel()).decode("utf-8", "replace")


def _short(s: str, n: int = 160) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def _feedback(check_title: str, hint: str, problems: list[str]) -> str:
    if not problems:
        return f"{check_title}: passed."
    lines = [f"- {_short(p, 400)}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"- ... and {len(problems) - MAX_PROBLEMS} more")
    return "\n".join([f"{check_title}: failed.", *lines, f"Hint: {hint}"])


def grade(check: Check, outputs: Arrays | None, fixture: Fixture, error: str | None = None) -> Verdict:
    """The verdict on one check from its probe's outputs, or from the error that stopped the probe."""
    if outputs is None:
        problems = [f"your code stopped with an error: {_short(error or 'no result', 300)}"]
    else:
        try:
            problems = [p for rule in check.rules for p in rule(outputs, fixture)]
        except Exception as e:  # malformed outputs: report without a grader traceback
            problems = [f"the results of your code could not be checked ({type(e).__name__})"]
    score = 0.0 if problems else float(check.points)
    return Verdict(not problems, score, _feedback(check.title, check.hint, problems))


def _check(module: str, name: str, points: float, title: str, hint: str, *rules: Rule) -> Check:
    """A check scored by its rules (default: expected_outputs) on the probe named like it (dashes -> underscores)."""
    return Check(name, module, points, title, hint, name.replace("-", "_"), rules or (expected_outputs,))


# --------------------------------------------------------------------------- rules


def expected_outputs(out: Arrays, fx: Fixture) -> list[str]:
    """Every stored reference output matches, read by its key's prefix: ok_ flags must be 1, err_ exception names,
    msg_/txt_ texts and shape_ shapes must be equal, other arrays must match in shape, dtype and value."""
    problems = []
    raised = any(key.startswith("err_") and text(value) for key, value in out.items())
    for key, want in fx.expected.items():
        kind, rest = key.split("_", 1)[0], key.partition("_")[2]
        label = fx.labels.get(key) or fx.labels.get(rest) or key
        if kind == "msg" and text(out.get(f"err_{rest}", [])) != text(fx.expected.get(f"err_{rest}", [])):
            continue  # the exception itself is reported under err_
        if key not in out:
            if not raised:  # results are missing after a call raised: the err_ entry explains why
                problems.append(f"{label}: no result")
        elif kind == "ok":
            if not np.all(out[key] == 1):
                problems.append(label)
        elif kind == "err":
            got, exp = text(out[key]), text(want)
            if got != exp and not got:
                problems.append(f"{label}: should raise {exp}, but no exception was raised")
            elif got != exp:
                problems.append(f"{label}: raised {_short(got)}" + (f" instead of {exp}" if exp else ""))
        elif kind in ("msg", "txt"):
            got, exp = text(out[key]), text(want)
            if got != exp:
                problems.append(f"{label}: got {_short(got)!r}, expected {exp!r}")
        elif kind == "shape":
            got, exp = tuple(int(n) for n in out[key]), tuple(int(n) for n in want)
            if got != exp:
                problems.append(f"{label}: {got}, expected {exp}{shape_note(got, exp)}")
        elif problem := diff(out[key], want, rtol=fx.rtol, atol=fx.atol, name=label):
            problems.append(problem)
    return problems


def bernstein(variance_sum: float, max_abs: float, fail: float = FAIL_PROB) -> float:
    """t with P(|S| >= t) <= fail for a sum S of independent zero-mean terms bounded by max_abs with total variance
    variance_sum (Bernstein's inequality, solved for t; rigorous, no normal approximation)."""
    log_term = math.log(2 / fail)
    a = log_term * max_abs / 3
    return a + math.sqrt(a * a + 2 * log_term * variance_sum)


def _close(got: np.ndarray, ref: np.ndarray, fx: Fixture, name: str) -> list[str]:
    """got (must be float32) agrees with the float64 reference within the fixture's tolerance."""
    problem = diff(got, ref, rtol=fx.rtol, atol=fx.atol, name=name, dtype=np.float32)
    return [problem] if problem else []


def _shape_is(a: np.ndarray, shape: tuple, name: str) -> list[str]:
    return [] if a.shape == shape else [f"{name}: shape {a.shape}, expected {shape}{shape_note(a.shape, shape)}"]


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def linear_forward_rule(out: Arrays, fx: Fixture) -> list[str]:
    """Each output equals x @ W + b computed in float64 from the layer's own (returned) weight."""
    i = fx.inputs
    problems = _shape_is(out["raw_weight"], (4, 3), "Linear(4, 3).weight")
    problems += _shape_is(out["raw_weight_no_bias"], (4, 3), "Linear(4, 3, bias=False).weight")
    problems += _shape_is(out["raw_weight_wide"], (7, 2), "Linear(7, 2).weight")
    if problems:
        return problems
    w, b, x = _f64(out["raw_weight"]), _f64(i["b"]), _f64(i["x"])
    cases = [
        ("raw_y", x @ w + b, "Linear(4, 3) with bias [0.5, -1, 2] on a (6, 4) batch"),
        ("raw_y_one", x[:1] @ w + b, "the same layer on a batch of one sample, shape (1, 4)"),
        ("raw_y_1d", x[0] @ w + b, "the same layer on one 1-D sample, shape (4,)"),
        ("raw_y_3d", _f64(i["x3"]) @ w + b, "the same layer on a (2, 5, 4) input"),
        ("raw_y_int", _f64(i["x_int"]) @ w + b, "the same layer on an int64 input"),
        ("raw_y_no_bias", x @ _f64(out["raw_weight_no_bias"]), "Linear(4, 3, bias=False) on a (6, 4) batch"),
        ("raw_y_wide", _f64(i["x_wide"]) @ _f64(out["raw_weight_wide"]) + _f64(i["b_wide"]), "Linear(7, 2)"),
    ]
    for key, ref, name in cases:
        problems += _close(out[key], ref, fx, name)
    if not np.array_equal(out["raw_weight_after"], out["raw_weight"]):
        problems.append("forward changed the layer's weight")
    if not np.array_equal(out["raw_bias_after"], i["b"].astype(np.float32)):
        problems.append("forward changed the layer's bias")
    return problems


def _init_stats(w: np.ndarray, fan_in: int, name: str) -> list[str]:
    """Mean 0 (6.5 standard errors), std within 3% of sqrt(1/fan_in), and the share within one std of a normal."""
    w, sigma = _f64(w).ravel(), math.sqrt(1.0 / fan_in)
    n, problems = w.size, []
    mean_bound = 6.5 * sigma / math.sqrt(n)  # P(|N(0, 1)| > 6.5) = 8e-11
    if abs(w.mean()) > mean_bound:
        problems.append(f"{name}: mean {w.mean():.5f}, expected 0 (allowed: within {mean_bound:.5f})")
    ratio = w.std() / sigma
    if abs(ratio - 1) >= 0.03:  # 10 standard errors of the sample std for n > 60,000
        problems.append(
            f"{name}: std {w.std():.5f}, expected sqrt(1/in_features) = {sigma:.5f} ({ratio:.3f} times that)"
        )
    share, normal = np.mean(np.abs(w) < sigma), math.erf(1 / math.sqrt(2))
    if not problems and abs(share - normal) > bernstein(n * normal * (1 - normal), 1.0) / n:
        problems.append(f"{name}: {share:.3f} of the weights lie within one std of 0, a normal distribution has 0.683")
    return problems


def linear_init_rule(out: Arrays, fx: Fixture) -> list[str]:
    """Linear(512, 128) and Linear(64, 1000) weights look like N(0, 1/in_features); two layers differ."""
    problems = []  # a wrong shape of the first weight is reported by expected_outputs
    if out["raw_weight"].shape == (512, 128):
        problems += _init_stats(out["raw_weight"], 512, "Linear(512, 128) weights")
    narrow = out["raw_weight_narrow"]
    problems += _shape_is(narrow, (64, 1000), "Linear(64, 1000).weight") or _init_stats(
        narrow, 64, "Linear(64, 1000) weights"
    )
    if np.array_equal(out["raw_weight_8a"], out["raw_weight_8b"]):
        problems.append("two new Linear(8, 8) layers got the same weights; each layer should draw new random numbers")
    return problems


def _dropout_values(y: np.ndarray, x: np.ndarray, p: float, name: str) -> list[str]:
    """Training output of Dropout(p) on x (no zeros): each element 0 or x / (1 - p), the dropped share close to p."""
    if y.shape != x.shape or y.dtype != np.float32:
        return _shape_is(y, x.shape, name) or [f"{name}: dtype {y.dtype}, expected float32"]
    y, x = _f64(y).ravel(), _f64(x).ravel()
    dropped = y == 0
    scaled = np.isclose(y, x / (1 - p), rtol=1e-6, atol=0)
    bad = np.flatnonzero(~(dropped | scaled))
    if bad.size:
        k = bad[0]
        return [
            f"{name}: {bad.size} of {y.size} outputs are neither 0 nor x / (1 - p) = {1 / (1 - p):.4g} * x, "
            f"e.g. input {x[k]:.6g} gave {y[k]:.6g}"
        ]
    n, share = y.size, dropped.mean()
    bound = bernstein(n * p * (1 - p), 1.0) / n
    if abs(share - p) > bound:
        return [f"{name}: {share:.4f} of the elements were dropped, expected {p} (allowed: within {bound:.4f})"]
    return []


def _dropout_mean(y: np.ndarray, x: np.ndarray, p: float, name: str, axis: int | None = None) -> list[str]:
    """The mean of Dropout(p)'s output equals the input's (over all elements, or per column with axis=0)."""
    y, x = _f64(y), _f64(x)
    n = x.size if axis is None else x.shape[axis]
    var = np.sum(x**2, axis=axis) * p / (1 - p)
    top = np.max(np.abs(x), axis=axis) * max(1.0, p / (1 - p))
    bounds = np.vectorize(bernstein)(var, top) / n
    gap = np.abs(y.mean(axis=axis) - x.mean(axis=axis))
    if np.all(gap <= bounds):
        return []
    means = lambda a: ", ".join(f"{v:.4g}" for v in np.atleast_1d(a.mean(axis=axis)))  # noqa: E731
    return [f"{name}: on average the output should equal the input; input mean {means(x)}, output mean {means(y)}"]


def dropout_override_rule(out: Arrays, fx: Fixture) -> list[str]:
    """training=True in eval mode drops some elements (not all) and scales survivors by 1 / (1 - 0.5)."""
    y, x = out["raw_override"], fx.inputs["x"]
    name = "Dropout(0.5)(x, training=True) in eval mode"
    problems = _dropout_values(y, x, 0.5, name)
    if not problems and not 0 < np.sum(y == 0) < y.size:
        problems.append(f"{name}: should drop some elements but not all")
    return problems


def dropout_training_rule(out: Arrays, fx: Fixture) -> list[str]:
    """Every call: values 0 or x / (1 - p), dropped share near p; two calls with the same p use different masks."""
    x, problems = fx.inputs["x"], []
    for k, p in enumerate(fx.inputs["p"]):
        xk = x.reshape(tuple(fx.inputs["shape_3d"])) if k == 3 else x
        for call in ("a", "b") if k < 2 else ("a",):
            problems += _dropout_values(out[f"raw_y{k}{call}"], xk, float(p), f"Dropout({p:g}) on a {xk.shape} input")
        if k < 2 and np.array_equal(out[f"raw_y{k}a"] == 0, out[f"raw_y{k}b"] == 0):
            problems.append(f"Dropout({p:g}): two calls dropped the same elements; draw a new mask on every call")
    return problems


def dropout_mean_rule(out: Arrays, fx: Fixture) -> list[str]:
    """Over 50,000 rows, each column's mean output equals its input value."""
    values, trials, problems = fx.inputs["values"], int(fx.inputs["trials"]), []
    for k, p in enumerate(fx.inputs["p"]):
        y = out[f"raw_y{k}"]
        problems += _shape_is(y, (trials, values.size), f"Dropout({p:g})") or _dropout_mean(
            y, np.tile(values, (trials, 1)), float(p), f"Dropout({p:g}) on {trials} copies of {values.tolist()}", axis=0
        )
    return problems


def dropout_other_p_rule(out: Arrays, fx: Fixture) -> list[str]:
    """For each p: values 0 or x / (1 - p), dropped share near p, mean preserved."""
    x, problems = fx.inputs["x"], []
    for k, p in enumerate(fx.inputs["p"]):
        name = f"Dropout({p:g})"
        problems += _dropout_values(out[f"raw_y{k}"], x, float(p), name) or _dropout_mean(out[f"raw_y{k}"], x, p, name)
    return problems


def _mlp_ref(x: np.ndarray, w1, b1, w2, b2) -> np.ndarray:
    return np.maximum(_f64(x) @ _f64(w1) + _f64(b1), 0) @ _f64(w2) + _f64(b2)


def sequential_network_rule(out: Arrays, fx: Fixture) -> list[str]:
    """Sequential(Linear(3, 5), ReLU(), Linear(5, 2)) equals relu(x @ W1 + b1) @ W2 + b2 from its own weights."""
    shapes = {"w1": (3, 5), "b1": (5,), "w2": (5, 2), "b2": (2,)}
    problems = [p for k, s in shapes.items() for p in _shape_is(out[f"raw_{k}"], s, f"parameter {k}")]
    if problems:
        return problems
    ref = _mlp_ref(fx.inputs["x"], *(out[f"raw_{k}"] for k in shapes))
    return _close(out["raw_y"], ref, fx, "Sequential(Linear(3, 5), ReLU(), Linear(5, 2)) on a (7, 3) batch")


def _differ(a: np.ndarray, b: np.ndarray, name: str) -> list[str]:
    return [] if not np.array_equal(a, b) else [f"{name}: two calls in training mode gave the same output"]


def _same(a: np.ndarray, b: np.ndarray, name: str) -> list[str]:
    return [] if np.array_equal(a, b) else [f"{name}: two calls in eval mode should agree exactly"]


def train_eval_rule(out: Arrays, fx: Fixture) -> list[str]:
    """In eval mode two calls agree exactly; in training mode dropout makes them differ."""
    return _same(out["raw_eval_a"], out["raw_eval_b"], "the model") + _differ(
        out["raw_train_a"], out["raw_train_b"], "the model with Dropout layers"
    )


def container_rule(out: Arrays, fx: Fixture) -> list[str]:
    """c(model[:2](x)) equals model(x)."""
    problem = diff(out["raw_head_then_c"], out["raw_model"], rtol=fx.rtol, atol=fx.atol, name="c(model[:2](x))")
    return [f"{problem} (compared with model(x))"] if problem else []


def mlp_rule(out: Arrays, fx: Fixture) -> list[str]:
    """Eval mode: deterministic and relu(x @ W1 + b1) @ W2 + b2 from the model's weights; training mode: random."""
    problems = _same(out["raw_y1"], out["raw_y2"], "the model")
    shapes = {"w1": (784, 256), "b1": (256,), "w2": (256, 10), "b2": (10,)}
    problems += [p for k, s in shapes.items() for p in _shape_is(out[f"raw_{k}"], s, f"parameter {k}")]
    if not problems:
        x = fx.inputs["pixels"].astype(np.float32) / np.float32(255)
        ref = _mlp_ref(x, *(out[f"raw_{k}"] for k in shapes))
        problems += _close(out["raw_y1"], ref, fx, "the model in eval mode vs relu(x @ W1 + b1) @ W2 + b2")
    return problems + _differ(out["raw_t1"], out["raw_t2"], "the model")


def nested_modes_rule(out: Arrays, fx: Fixture) -> list[str]:
    """Training mode is random; eval mode equals the non-random layers applied by hand."""
    problems = _differ(out["raw_train_a"], out["raw_train_b"], "the nested model")
    if not np.array_equal(out["raw_eval"], out["raw_by_hand"]):
        problems.append("the nested model in eval mode should equal its Linear and ReLU applied by hand")
    return problems


def linear_error_message_rule(out: Arrays, fx: Fixture) -> list[str]:
    """The ValueError for a wrong input width names the input shape and the weight shape (5, 3)."""
    problems = []
    for k in range(3):
        bad, message = tuple(int(n) for n in fx.inputs[f"bad_shape_{k}"]), text(out[f"raw_msg_bad_{k}"])
        if text(out[f"err_bad_{k}"]) == "ValueError" and not (str(bad) in message and "(5, 3)" in message):
            problems.append(
                f"the error for an input of shape {bad} should name it and the weight shape (5, 3), "
                f"got: {_short(message)!r}"
            )
    return problems


# --------------------------------------------------------------------------- the checks


def _tensor(*args, **kw) -> Check:
    return _check("01_tensor", *args, **kw)


def _act(*args, **kw) -> Check:
    return _check("02_activations", *args, **kw)


def _layers(*args, **kw) -> Check:
    return _check("03_layers", *args, **kw)


CHECKS: dict[str, tuple[Check, ...]] = {
    "01_tensor": (
        _tensor(
            "tensor-creation-dtype",
            3,
            "Tensor(...) stores float32 by default, keeps an explicit dtype and unwraps Tensors",
            "Look at how __init__ turns its argument into a NumPy array: which dtype does it use when none is given, "
            "and what happens when the argument is itself a Tensor?",
        ),
        _tensor(
            "tensor-properties-live",
            1,
            "shape, dtype, size and ndim follow t.data; numpy() returns t.data",
            "Compute the properties from self.data each time they are read instead of storing them once.",
        ),
        _tensor(
            "tensor-arithmetic",
            2,
            "+ - * / between Tensors match NumPy, with broadcasting, operands unchanged",
            "Each operator should compute on the NumPy data of both operands (the right one may be a Tensor or an "
            "array) and wrap the result in a new Tensor.",
        ),
        _tensor(
            "tensor-arithmetic-scalars-dtype",
            3,
            "Arithmetic with numbers and arrays on either side returns float32 Tensors",
            "Check the reflected operators (__radd__, __rsub__, __rmul__, __rtruediv__), the order of the operands in"
            " - and /, and that every result is stored as float32.",
        ),
        _tensor(
            "tensor-matmul",
            3,
            "@ matches NumPy for matrices, batches and vectors, with Tensor, ndarray or list operands",
            "Multiply the data of both operands; the other operand may be a Tensor, an ndarray or a nested list, on "
            "either side of @, and the result should be float32.",
        ),
        _tensor(
            "tensor-matmul-shape-error",
            2,
            "Mismatched shapes raise ValueError with the documented message",
            "Compare the inner dimensions before multiplying (mind 1-D and 0-d operands) and write the message "
            "exactly in the documented format.",
        ),
        _tensor(
            "tensor-reductions",
            2,
            "sum and mean match NumPy for every axis and keepdims, as float32 Tensors",
            "Pass axis and keepdims on to NumPy and wrap the result in a float32 Tensor; reducing over everything "
            "gives a 0-d Tensor.",
        ),
        _tensor(
            "tensor-reshape-transpose",
            3,
            "reshape and transpose/T follow NumPy; a bad reshape raises the documented ValueError",
            "reshape accepts the new shape as separate numbers or as one tuple or list; transpose swaps the last two "
            "dimensions by default and leaves 1-D tensors as they are.",
        ),
        _tensor(
            "tensor-hidden-composite",
            2,
            "Chains of Tensor operations match NumPy and stay float32",
            "Every operation, reductions, reshapes and transposes included, should return a float32 Tensor that the "
            "next operation accepts, with a float64 array on either side.",
        ),
        _tensor(
            "tensor-hidden-inputs-unchanged",
            1,
            "Every operation returns a new Tensor and leaves its operands unchanged",
            "Avoid in-place NumPy operations (+=, *=, out=...) on an operand's data; build the result in a new array "
            "and wrap it in a new Tensor.",
        ),
    ),
    "02_activations": (
        _act(
            "relu-forward",
            1,
            "ReLU matches max(0, x) element-wise",
            "ReLU keeps positive values and replaces everything else by 0, element by element, for inputs of any "
            "shape.",
        ),
        _act(
            "sigmoid-forward",
            2,
            "Sigmoid matches 1 / (1 + exp(-x)) on [-20, 20]",
            "Compare your formula with 1 / (1 + exp(-x)) by hand at a few points, for example x = 0 and x = 2.",
        ),
        _act(
            "sigmoid-stable",
            3,
            "Sigmoid is accurate and overflow-free for |x| up to 1000, in float32 and float64",
            "exp of a large positive number overflows: use a form of the formula that only ever takes exp of a number"
            " <= 0, chosen by the sign of x.",
        ),
        _act(
            "tanh-forward",
            1,
            "Tanh matches tanh(x), also for |x| up to 1000",
            "Building tanh from exponentials overflows for large |x|; NumPy has a function that computes it stably.",
        ),
        _act(
            "softmax-forward",
            2,
            "Softmax matches exp(x) / sum(exp(x)) along the last axis",
            "Normalize along the last axis and keep that axis so the division broadcasts row by row; a square input "
            "shows a wrong axis.",
        ),
        _act(
            "softmax-stable",
            2,
            "Softmax does not overflow for scores around +-1000 and ignores a constant shift",
            "Subtracting the maximum along the axis before exp changes nothing mathematically and keeps every exp() "
            "at most 1.",
        ),
        _act(
            "softmax-dim",
            2,
            "Softmax(dim=...) normalizes along the given dimension",
            "Use self.dim both for the maximum and for the sum, keeping that dimension; the default is the last one.",
        ),
        _act(
            "module-activations-contract",
            2,
            "Every activation is a Module returning a new float32 Tensor of the input's shape, with no parameters",
            "Each activation should return a new float32 Tensor with the input's shape and never modify its input; "
            "the Module base class provides the rest.",
        ),
        _act(
            "relu-hidden-infinities",
            1,
            "ReLU maps -inf to 0 and keeps inf",
            "Multiplying by a 0/1 mask turns -inf into NaN, because -inf * 0 is NaN; choose values instead of "
            "multiplying.",
        ),
        _act(
            "softmax-hidden-reference-outputs",
            2,
            "Softmax matches reference outputs along every dimension, also for float64 input",
            "Normalize along self.dim for any number of dimensions (negative dims included) and return float32 for "
            "float64 inputs too.",
        ),
    ),
    "03_layers": (
        _layers(
            "linear-shapes-and-dtype",
            1,
            "Linear(5, 3): (5, 3) float32 weight, zero (3,) bias, output shapes, clear error for a wrong input width",
            "weight is (in_features, out_features) and bias (out_features,), both float32 Tensors, and bias=False "
            "means self.bias is None. The error for a wrong width should name the input shape and the weight shape.",
            expected_outputs,
            linear_error_message_rule,
        ),
        _layers(
            "linear-forward-matches-numpy",
            3,
            "Linear forward computes x @ weight + bias for batches, single samples, 3-D and integer inputs",
            "Multiply the input by the weight as stored, (in_features, out_features), then add the bias if there is "
            "one, without changing the parameters.",
            linear_forward_rule,
        ),
        _layers(
            "linear-init-statistics",
            2,
            "Linear weights are N(0, 1/in_features), new for every layer, with a zero bias",
            "The weights should be normally distributed with mean 0 and standard deviation sqrt(1 / in_features): "
            "check which feature count you scale by and which random function you use.",
            expected_outputs,
            linear_init_rule,
        ),
        _layers(
            "linear-parameters",
            1,
            "parameters() returns [weight, bias], or [weight], as the layer's own Tensors",
            "Return a list of the Tensor objects themselves (not copies), weight first, leaving out the bias when "
            "there is none.",
        ),
        _layers(
            "dropout-invalid-p",
            1,
            "Dropout accepts 0 <= p <= 1 (default 0.5) and rejects anything else",
            "Raise ValueError in __init__ unless p is a number between 0 and 1, both included.",
        ),
        _layers(
            "dropout-modes",
            2,
            "Dropout is the identity in eval mode and with training=False; training=True drops for one call",
            "Decide whether to drop from the training argument when it is given and from self.training otherwise; "
            "forward should never change self.training.",
            expected_outputs,
            dropout_override_rule,
        ),
        _layers(
            "dropout-edge-p",
            1,
            "Dropout with p = 0 returns the input, with p = 1 zeros without NaN",
            "Handle p = 0 and p = 1 before computing the scale: with p = 1 the scaling would divide 0 by 0.",
        ),
        _layers(
            "dropout-training-values",
            3,
            "In training each output is 0 or x / (1 - p), about a share p is dropped, with a new mask every call",
            "Keep each element with probability 1 - p (not p), divide the kept values by 1 - p, and draw a new random"
            " mask on every call.",
            dropout_training_rule,
        ),
        _layers(
            "dropout-mean-preserved",
            1,
            "Dropout keeps each value's mean over many calls",
            "Scale the survivors by 1 / (1 - p), one over the keep probability, not by p or 1 / p.",
            dropout_mean_rule,
        ),
        _layers(
            "sequential-forward-order",
            2,
            "Sequential applies its layers first to last",
            "Feed the input through the layers in the order they were given, the output of each becoming the input of"
            " the next.",
            expected_outputs,
            sequential_network_rule,
        ),
        _layers(
            "sequential-parameters",
            2,
            "Sequential.parameters() lists every layer's Tensors in order, each once, nested Sequentials included",
            "Ask each layer for its parameters() (a nested Sequential answers for its own layers) and skip a Tensor "
            "you already have, comparing by identity, not value.",
        ),
        _layers(
            "sequential-train-eval",
            2,
            "train()/eval() return the model and reach every nested layer; eval is deterministic",
            "Override train(mode) so that it sets the model's own flag, passes the mode on to every layer and returns"
            " self; eval() calls train(False).",
            expected_outputs,
            train_eval_rule,
        ),
        _layers(
            "sequential-container",
            1,
            "len, indexing, iteration and slicing of a Sequential",
            "These conveniences are given in the notebook; compare your Sequential with the given code (the layers "
            "should be kept in a list, in order).",
            expected_outputs,
            container_rule,
        ),
        _layers(
            "sequential-mlp-784-256-10",
            2,
            "The 784-256-10 classifier: 203,530 parameters, deterministic in eval mode, random in training",
            "If the parameter count is off, look at Linear.parameters() and Sequential.parameters(); if eval mode is "
            "random, check that eval() reaches the Dropout layer.",
            expected_outputs,
            mlp_rule,
        ),
        _layers(
            "linear-hidden-reference-outputs",
            2,
            "Linear forward matches reference outputs for a given weight and non-zero bias (2-D, 1-D and 3-D inputs)",
            "forward should use self.weight as stored, (in_features, out_features), and add self.bias to every "
            "sample, for any number of leading dimensions.",
        ),
        _layers(
            "linear-hidden-no-bias",
            1,
            "Linear(..., bias=False) has no bias, one parameter, and computes x @ weight",
            "With bias=False, store None as the bias, leave it out of parameters() and skip the addition in forward.",
        ),
        _layers(
            "dropout-hidden-other-p",
            2,
            "Dropout is correct for p = 0.1, 0.25 (a NumPy float), 0.75 and 0.9",
            "At p = 0.5 the keep and drop probabilities are equal, so swapping them only shows at other p; p may also"
            " arrive as a NumPy number.",
            dropout_other_p_rule,
        ),
        _layers(
            "sequential-hidden-deck-mlp-reference",
            2,
            "The deck's MLP with given weights matches reference outputs in eval mode",
            "In eval mode Dropout does nothing, so the model computes relu(x @ W1 + b1) @ W2 + b2; check the order of"
            " the layers and that eval() reaches every one of them.",
        ),
        _layers(
            "sequential-hidden-nested-modes",
            1,
            "train()/eval() reach every nested layer; a nested block's train() changes only that block",
            "Set the mode on self and on every layer inside it, without touching the class or any other model.",
            expected_outputs,
            nested_modes_rule,
        ),
    ),
}
