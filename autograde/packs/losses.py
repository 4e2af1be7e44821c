"""Check pack of module 04 Losses (probes: autograde/probes/losses.py).

Losses are compared with the reference's outputs at float32 tolerance. Two things the notebook leaves to the student
are judged by rules instead: the wording of error messages (they must name the numbers the notebook asks for, in
any words) and BinaryCrossEntropyLoss's eps (any eps the notebook accepts: clipped losses are recomputed from it).
"""

import numpy as np

from autograde.fixture_io import Arrays, Fixture, Spec, f32, i64
from autograde.judging import Check, close, expected_outputs, f64, shorten
from autograde.probes.protocol import Result, decode_text

REFERENCE_EPS = float(np.finfo(np.float32).eps)  # the notebook's eps, used to judge a student whose eps is invalid

# --------------------------------------------------------------------------- fixture inputs


def _mse_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.losses import MSE_SHAPES

    shapes = enumerate(MSE_SHAPES)
    return {f"{name}{k}": f32(rng.standard_normal(s)) for k, s in shapes for name in ("p", "y")}


def _log_softmax_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.losses import LOG_SOFTMAX_SHAPES

    out = {f"x{k}": f32(rng.standard_normal(shape) * 3) for k, shape in enumerate(LOG_SOFTMAX_SHAPES)}
    return out | {"equal_rows": f32([[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])}


def _bad_targets(rng: np.random.Generator) -> Arrays:
    from autograde.probes.losses import BAD_TARGET_SHAPES, BAD_TARGETS

    out = {f"bad_target_{k}": i64(bad) for k, (bad, _) in enumerate(BAD_TARGETS)}
    return out | {f"wrong_shape_{k}": i64(shape) for k, shape in enumerate(BAD_TARGET_SHAPES)}


def _bce_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.losses import MSE_SHAPES

    out = {}
    for k, shape in enumerate(MSE_SHAPES):
        out[f"p{k}"] = f32(rng.uniform(0.01, 0.99, shape))
        out[f"y{k}"] = f32(rng.random(shape) < 0.5)
    return out | {"p64": rng.uniform(0.05, 0.95, (3, 4, 5)), "y64": rng.random((3, 4, 5))}


def _bce_corner_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.losses import BCE_CORNERS

    return {
        "corners": f32(BCE_CORNERS),
        "batch_p": f32([1.0, 0.0, 1.0, 0.0, 1.0]),
        "batch_y": f32([1.0, 0.0, 1.0, 0.0, 0.0]),
        "grid_p": f32([[0.0, 1.0, 0.5], [1.0, 0.0, 1e-12]]),
        "grid_y": f32([[0.3, 0.7, 1.0], [1.0, 0.0, 0.5]]),
    }


def _bce_hidden_inputs(rng: np.random.Generator) -> Arrays:
    extreme_p = f32(rng.choice([0.0, 1.0, 0.3, 0.9], (6, 5)))
    tiny = np.concatenate([rng.uniform(1e-5, 1e-3, 10), 1 - rng.uniform(1e-5, 1e-3, 10)])
    return {
        "extreme_p": extreme_p,
        "extreme_y": f32(rng.random((6, 5))),  # soft targets: a wrong certainty costs a share of -log(eps)
        "soft_p": f32(rng.uniform(0.02, 0.98, (50, 4))),
        "soft_y": f32(rng.random((50, 4))),
        "tiny_p": f32(tiny),
        "tiny_y": f32(rng.random(20) < 0.5),
    }


# --------------------------------------------------------------------------- rules


def _message_names(out: Result, name: str, must_name: tuple[str, ...], what: str) -> list[str]:
    """When error `name` is the expected ValueError, its message (raw `name`_message) contains every string of
    must_name; the error's type itself is judged by expected_outputs."""
    message = decode_text(out.raw[f"{name}_message"])
    if out.error[name] != "ValueError" or all(s in message for s in must_name):
        return []
    return [f"the error for {what} should name {' and '.join(must_name)}, got: {shorten(message)!r}"]


def broadcast_message_rule(out: Result, fx: Fixture) -> list[str]:
    """The ValueError for a (4, 1) prediction and a (4,) target names both shapes."""
    return _message_names(out, "broadcast", ("(4, 1)", "(4,)"), "a (4, 1) prediction and a (4,) target")


def _numbered(inputs: Arrays, prefix: str) -> list[tuple[str, np.ndarray]]:
    """(k, input) for the fixture inputs prefix0, prefix1, ... in order."""
    count = sum(name.startswith(prefix) for name in inputs)
    return [(str(k), inputs[f"{prefix}{k}"]) for k in range(count)]


def target_message_rule(out: Result, fx: Fixture) -> list[str]:
    """Errors for bad targets name the target (as an integer) and the 10 classes, the fractional 1.5, and both
    shapes for targets of the wrong shape; in the student's own words."""
    problems = []
    for k, bad in _numbered(fx.inputs, "bad_target_"):
        name, bad = f"bad_{k}", int(bad)
        message = decode_text(out.raw[f"{name}_message"])
        rest = message.replace(str(bad), "", 1)
        if out.error[name] == "ValueError" and not (str(bad) in message and "10" in rest and f"{bad}.0" not in message):
            problems.append(
                f"the error for target {bad} should name it (as an integer) and the number of classes, 10, "
                f"got: {shorten(message)!r}"
            )
    problems += _message_names(out, "fraction", ("1.5",), "the fractional target 1.5")
    for k, shape in _numbered(fx.inputs, "wrong_shape_"):
        shape = str(tuple(int(n) for n in shape))
        problems += _message_names(out, f"wrong_shape_{k}", ("(4, 10)", shape), f"targets of shape {shape}")
    return problems


def _student_eps(out: Result) -> tuple[float, str]:
    """The eps to judge clipped losses with: the student's when the notebook accepts it, else the reference's."""
    eps = float(out.raw["eps"])
    if 0 < eps <= 1e-6 and np.float32(1 - eps) < 1:
        return eps, f"eps = {eps:.4g}"
    return REFERENCE_EPS, f"the notebook's eps = {REFERENCE_EPS:.4g}"


def _bce_expected(p: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """float64 loss of probabilities clipped to [eps, 1 - eps], as the notebook's test computes it: an eps whose
    1 - eps float32 rounds far off (1e-7 leaves 1.19e-7) gives another loss at p = 1, and fails here too."""
    clipped, y = np.clip(f64(p), eps, 1 - eps), f64(y)
    return np.asarray(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped)))


def _clipped_losses(out: Result, fx: Fixture, cases: dict[str, tuple[np.ndarray, np.ndarray, str]]) -> list[str]:
    """Each case's raw loss (absent when its error, judged by expected_outputs, says it overflowed) equals the
    float64 loss at the student's eps."""
    eps, which = _student_eps(out)
    problems = []
    for name, (p, y, what) in cases.items():
        if name in out.raw:
            problems += close(out.raw[name], _bce_expected(p, y, eps), fx, f"{what} (with {which})")
    return problems


def bce_clip_rule(out: Result, fx: Fixture) -> list[str]:
    """Losses at p = 0 and 1, in a batch and on a grid of soft targets, from the student's eps."""
    i = fx.inputs
    cases = {
        f"corner_{k}": (p[None], y[None], f"loss at p = {p:g}, y = {y:g}") for k, (p, y) in enumerate(i["corners"])
    }
    cases["batch"] = (i["batch_p"], i["batch_y"], "a batch of four correct certainties and one wrong one")
    cases["grid"] = (i["grid_p"], i["grid_y"], "probabilities 0, 1, 0.5 and 1e-12 with soft targets")
    return _clipped_losses(out, fx, cases)


def bce_extremes_rule(out: Result, fx: Fixture) -> list[str]:
    """The loss of a batch with probabilities of exactly 0 and 1, from the student's eps."""
    what = "a (6, 5) batch with probabilities of exactly 0 and 1"
    return _clipped_losses(out, fx, {"extremes": (fx.inputs["extreme_p"], fx.inputs["extreme_y"], what)})


# --------------------------------------------------------------------------- the checks

F32 = {"rtol": 1e-5, "atol": 1e-7}  # a few float32 roundings of a mean of non-negative terms

CHECKS = (
    Check(
        "mse-forward",
        points=2,
        title="MSELoss is the mean of (pred - target) ** 2 as a 0-d float32 Tensor, for any shape and target type",
        hint="Square the element-wise difference and average over every element (np.mean, not a sum), returning "
        "Tensor(...) of that mean; the target may arrive as an array or a Tensor.",
        probe="mse_forward",
        rules=(expected_outputs, broadcast_message_rule),
        fixture=Spec(seed=0, inputs=_mse_inputs, **F32),
    ),
    Check(
        "mse-hidden-reference-outputs",
        points=1,
        title="MSELoss matches reference outputs for float64 predictions, integer targets and a (2, 3, 4) input",
        hint="Whatever the input dtypes, return a 0-d float32 Tensor of the mean squared difference, without changing"
        " the inputs.",
        probe="mse_hidden_reference_outputs",
        fixture=Spec(
            seed=1,
            inputs=lambda rng: {
                "pred64": rng.standard_normal((5, 2)) * 1000,
                "target_int": np.arange(10, dtype=np.int64).reshape(5, 2),
                "p": f32(rng.standard_normal((2, 3, 4))),
                "y": f32(rng.standard_normal((2, 3, 4))),
            },
            **F32,
        ),
    ),
    Check(
        "crossentropy-log-softmax",
        points=2,
        title="log_softmax matches log(softmax(x)) along the last axis for 1-D, 2-D and 3-D inputs",
        hint="Subtract log(sum(exp(x))) along the last axis, keeping that axis (keepdims=True) so it broadcasts row by"
        " row; a square input shows a wrong axis.",
        probe="crossentropy_log_softmax",
        fixture=Spec(
            seed=2,
            inputs=_log_softmax_inputs,
            rtol=1e-5,
            atol=1e-5,
        ),
    ),
    Check(
        "crossentropy-log-softmax-stable",
        points=2,
        title="log_softmax is exact and overflow-free for scores up to 1e4 in size, and unchanged by shifting them",
        hint="exp of a large score overflows and log of an underflowed 0 is -inf: subtract each row's maximum first, "
        "and compute shifted - log(sum(exp(shifted))) rather than log(softmax).",
        probe="crossentropy_log_softmax_stable",
        fixture=Spec(
            seed=3,
            inputs=lambda rng: {
                "large": f32([[1e4, 0.0, -1e4], [-1e4, -1e4 + 1, -1e4 + 2], [1000.0, 1001.0, 1002.0]]),
                "x": f32(rng.standard_normal((5, 4))),
                "huge": f32(rng.standard_normal((20, 7)) * 5000),
            },
            rtol=1e-5,
            atol=1e-4,
        ),
    ),
    Check(
        "crossentropy-forward",
        points=3,
        title="CrossEntropyLoss is the batch mean of -log_softmax(logits)[i, target[i]], also for logits of +-1e4",
        hint="Pick one log-probability per row with log_probs[np.arange(N), indices], average over the N rows (not "
        "over the classes) and negate; use your stable log_softmax, and return a 0-d float32 Tensor.",
        probe="crossentropy_forward",
        fixture=Spec(
            seed=4,
            inputs=lambda rng: {
                "logits": f32(rng.standard_normal((6, 4)) * 2),
                "targets": i64([0, 3, 1, 1, 2, 3]),
                "one_class": rng.standard_normal((3, 1)),
                "big": f32(rng.standard_normal((100, 10)) * 100),
                "big_targets": rng.integers(0, 10, 100),
            },
            rtol=1e-5,
            atol=1e-6,
        ),
    ),
    Check(
        "crossentropy-targets",
        points=2,
        title="class_indices returns int64 indices from arrays, Tensors and lists, and rejects bad targets clearly",
        hint="Take .data from a Tensor, check the shape is (N,), that float targets are whole numbers, and that every "
        "index lies in 0..C-1 (-1 and C are out of range); name the bad value and C in the ValueError, then cast to "
        "int64.",
        probe="crossentropy_targets",
        rules=(expected_outputs, target_message_rule),
        fixture=Spec(seed=0, inputs=_bad_targets, **F32),
    ),
    Check(
        "crossentropy-hidden-reference-outputs",
        points=2,
        title="CrossEntropyLoss matches reference outputs for logits up to 1e4 in size, with targets given as int64, "
        "float32 and float64 arrays and as Tensors",
        hint="Convert every form of targets to int64 indices (float ones only when they are whole numbers) and keep "
        "the log-softmax stable for large logits.",
        probe="crossentropy_hidden_reference_outputs",
        fixture=Spec(
            seed=5,
            inputs=lambda rng: {
                "logits": f32(rng.standard_normal((32, 10)) * rng.choice([1.0, 100.0, 1e4], (32, 1))),
                "targets": rng.integers(0, 10, 32),
                "small": f32(rng.standard_normal((16, 5))),
                "small_targets": rng.integers(0, 5, 16),
            },
            rtol=1e-5,
            atol=1e-6,
        ),
    ),
    Check(
        "bce-forward",
        points=2,
        title="BinaryCrossEntropyLoss is the mean of -[y log p + (1 - y) log(1 - p)], also for soft and float64 "
        "targets",
        hint="Average -(y * log(p) + (1 - y) * log(1 - p)) over every element, negated so the loss is positive, and "
        "return a 0-d float32 Tensor.",
        probe="bce_forward",
        rules=(expected_outputs, broadcast_message_rule),
        fixture=Spec(seed=6, inputs=_bce_inputs, **F32),
    ),
    Check(
        "bce-clipped",
        points=2,
        title="BinaryCrossEntropyLoss clips p to [eps, 1 - eps]: finite at p = 0 and 1, with a small eps",
        hint="Clip the probabilities to [eps, 1 - eps] before taking either log, with eps at most 1e-6 and 1 - eps "
        "exact in float32 (a power of two such as float32's own eps, 2**-23: 1 - 1e-8 rounds to 1).",
        probe="bce_clipped",
        rules=(expected_outputs, bce_clip_rule),
        fixture=Spec(seed=7, inputs=_bce_corner_inputs, **F32),
    ),
    Check(
        "bce-hidden-reference-outputs",
        points=1,
        title="BinaryCrossEntropyLoss matches reference outputs, including probabilities of exactly 0 and 1 and soft "
        "targets",
        hint="Clip both ends, keep the formula for soft targets (y between 0 and 1), and do not let a clip larger "
        "than eps change probabilities that need none.",
        probe="bce_hidden_reference_outputs",
        rules=(expected_outputs, bce_extremes_rule),
        fixture=Spec(seed=8, inputs=_bce_hidden_inputs, **F32),
    ),
)
