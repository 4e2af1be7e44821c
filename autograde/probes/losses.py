"""Probes for module 04 (MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss). Runs inside the sandbox: imports only
numpy, the stdlib and the student's package. Outputs are recorded by kind as in probes/tensor.py (probes/protocol.py).

Losses are judged against the reference's outputs, except where the notebook lets students choose: the wording of
error messages (raw outputs, judged by the pack's rules for the numbers they must name) and BinaryCrossEntropyLoss's
eps (clipped losses are raw outputs, recomputed by the pack from the student's own eps).
"""

from collections.abc import Callable

import numpy as np

from tinytorch.core.activations import Module
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

from .common import Arrays, Outputs, arr, strict
from .protocol import ERROR, FLAG, TEXT, key

MSE_SHAPES = ((8,), (4, 3), (2, 3, 4))  # fixture p0..p2 and y0..y2 of mse_forward and bce_forward
LOG_SOFTMAX_SHAPES = ((4, 5), (3, 3), (6,), (2, 3, 4))  # fixture x0..x3; (3, 3): a wrong axis still broadcasts
SHIFTS = {"m100": -100.0, "p30": 30.0, "p1000": 1000.0}
TARGET_FORMS = ("an int64 array", "a float32 Tensor", "an int64 Tensor", "a list")
INDEX_FORMS = ("an int64 array", "a float32 Tensor", "a list")  # given to class_indices
BAD_TARGETS = ((12, "array"), (-1, "array"), (10, "Tensor"))  # out of range for 10 classes: fixture bad_target_k
BAD_TARGET_SHAPES = ((3,), (4, 1))  # targets for logits of shape (4, 10): fixture wrong_shape_k
BCE_CORNERS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))  # (p, y) at the ends of [0, 1]


def _strict(out: Outputs, name: str, fn: Callable[[], Tensor], what: str, raw: bool = False) -> None:
    """Value (or raw output) `name`: the data of the loss fn() returns, with overflow/invalid/divide raising; error
    `name`: what that raised, or ""."""
    strict(out, name, lambda: arr(fn(), what), raw)


def _log_softmax(x: np.ndarray, what: str) -> np.ndarray:
    """The student's CrossEntropyLoss.log_softmax(x), which must return a NumPy array."""
    got = CrossEntropyLoss.log_softmax(x)
    if not isinstance(got, np.ndarray):
        raise TypeError(f"{what} should return a NumPy array, got {type(got).__name__}")
    return got


def _module_contract(out: Outputs, loss: Module) -> None:
    out.flag("module", isinstance(loss, Module) and loss.parameters() == [])
    out.text("repr", repr(loss))


def _targets(form: str, targets: np.ndarray):
    return {
        "an int64 array": lambda: targets.astype(np.int64),
        "a float32 Tensor": lambda: Tensor(targets),
        "an int64 Tensor": lambda: Tensor(targets, dtype=np.int64),
        "a list": lambda: targets.tolist(),
        "a float32 array": lambda: targets.astype(np.float32),
        "a float64 array": lambda: targets.astype(np.float64),
        "a uint8 array": lambda: targets.astype(np.uint8),
    }[form]()


LABELS: dict[str, dict[str, str]] = {
    "mse_forward": {
        **{f"array_{k}": f"MSELoss of {s} inputs with the target as an array" for k, s in enumerate(MSE_SHAPES)},
        **{f"tensor_{k}": f"MSELoss of {s} inputs with the target as a Tensor" for k, s in enumerate(MSE_SHAPES)},
        "by_hand": "MSELoss(Tensor([1, 2, 3]), [1, 0, 5]) (should be 8 / 3)",
        "itself": "MSELoss of a prediction with itself (should be exactly 0)",
        key(ERROR, "broadcast"): "MSELoss of a (4, 1) prediction and a (4,) target",
        key(FLAG, "module"): "MSELoss should be a Module without parameters",
        key(TEXT, "repr"): "repr(MSELoss())",
    },
    "mse_hidden_reference_outputs": {
        "float64": "MSELoss of a float64 (5, 2) prediction in the thousands and integer targets",
        "cube": "MSELoss of (2, 3, 4) inputs",
        key(FLAG, "unchanged"): "MSELoss must not change its inputs",
    },
    "crossentropy_log_softmax": {
        **{f"x{k}": f"log_softmax of a {s} input" for k, s in enumerate(LOG_SOFTMAX_SHAPES)},
        "equal_rows": "log_softmax of [[0, 0, 0, 0], [1, 2, 3, 4]]",
    },
    "crossentropy_log_softmax_stable": {
        "large": "log_softmax of [[1e4, 0, -1e4], [-1e4, -1e4 + 1, -1e4 + 2], [1000, 1001, 1002]]",
        "base": "log_softmax of a (5, 4) input",
        **{f"shift_{k}": f"log_softmax(x {'+' if c > 0 else '-'} {abs(c):g})" for k, c in SHIFTS.items()},
        "huge": "log_softmax of a (20, 7) input with values in the thousands",
    },
    "crossentropy_forward": {
        **{
            f"form_{k}": f"CrossEntropyLoss of (6, 4) logits with the targets as {f}"
            for k, f in enumerate(TARGET_FORMS)
        },
        "uniform": "CrossEntropyLoss of equal logits for 7 classes (should be log 7)",
        "huge": "CrossEntropyLoss of logits +-1e4 (should be 1e4)",
        "one_class": "CrossEntropyLoss with a single class (should be 0)",
        "uint8": "CrossEntropyLoss of (100, 10) logits in the hundreds with uint8 targets",
        key(FLAG, "unchanged"): "CrossEntropyLoss must not change its logits",
        key(FLAG, "module"): "CrossEntropyLoss should be a Module without parameters",
        key(TEXT, "repr"): "repr(CrossEntropyLoss())",
    },
    "crossentropy_targets": {
        **{f"indices_{k}": f"class_indices of [0, 3, 5, 9] given as {f}" for k, f in enumerate(INDEX_FORMS)},
        "uint8": "class_indices of a uint8 array [1, 0]",
        "tensor_targets": "CrossEntropyLoss of zero logits for 10 classes with Tensor targets (should be log 10)",
        **{
            key(ERROR, f"bad_{k}"): f"CrossEntropyLoss with target {b} for 10 classes"
            for k, (b, _) in enumerate(BAD_TARGETS)
        },  # fmt: skip
        key(ERROR, "fraction"): "CrossEntropyLoss with the fractional target 1.5",
        **{
            key(ERROR, f"wrong_shape_{k}"): f"CrossEntropyLoss of (4, 10) logits with targets of shape {s}"
            for k, s in enumerate(BAD_TARGET_SHAPES)
        },  # fmt: skip
        key(ERROR, "nan"): "CrossEntropyLoss with a NaN target",
        key(ERROR, "inf"): "CrossEntropyLoss with an infinite target in a Tensor",
        key(ERROR, "bool"): "CrossEntropyLoss with boolean targets (should raise TypeError)",
    },
    "crossentropy_hidden_reference_outputs": {
        **{
            f"form_{k}": f"CrossEntropyLoss of (32, 10) logits up to 1e4 with the targets as {f}"
            for k, f in enumerate(
                ("an int64 array", "a float32 array", "a float64 array", "a float32 Tensor", "an int64 Tensor")
            )
        },
        "moderate": "CrossEntropyLoss of (16, 5) logits with uint8 targets",
    },  # fmt: skip
    "bce_forward": {
        **{
            f"array_{k}": f"BinaryCrossEntropyLoss of {s} inputs with the target as an array"
            for k, s in enumerate(MSE_SHAPES)
        },
        **{
            f"tensor_{k}": f"BinaryCrossEntropyLoss of {s} inputs with the target as a Tensor"
            for k, s in enumerate(MSE_SHAPES)
        },
        "coin": "BinaryCrossEntropyLoss at p = 0.5 (should be log 2)",
        "soft": "BinaryCrossEntropyLoss with soft targets [0.1, 0.5, 0.8]",
        "float64": "BinaryCrossEntropyLoss of float64 (3, 4, 5) probabilities with soft float64 targets",
        key(ERROR, "broadcast"): "BinaryCrossEntropyLoss of a (4, 1) prediction and a (4,) target",
        key(FLAG, "module"): "BinaryCrossEntropyLoss should be a Module without parameters",
        key(TEXT, "repr"): "repr(BinaryCrossEntropyLoss())",
    },  # fmt: skip
    "bce_clipped": {
        key(FLAG, "eps_small"): "BinaryCrossEntropyLoss.eps should be positive and at most 1e-6",
        key(FLAG, "eps_below_one"): "float32(1 - eps) should be below 1, or log(1 - p) is still log(0) at p = 1",
        **{
            key(ERROR, f"corner_{k}"): f"BinaryCrossEntropyLoss at p = {p}, y = {y}"
            for k, (p, y) in enumerate(BCE_CORNERS)
        },
        key(ERROR, "batch"): "BinaryCrossEntropyLoss of four correct certainties and one wrong one",
        key(ERROR, "grid"): "BinaryCrossEntropyLoss of probabilities 0, 1, 0.5 and 1e-12 with soft targets",
        key(FLAG, "below_eps"): "a probability below eps (1e-30) should count exactly like eps (as p = 0 does)",
    },  # fmt: skip
    "bce_hidden_reference_outputs": {
        key(ERROR, "extremes"): "BinaryCrossEntropyLoss of a (6, 5) batch with probabilities of exactly 0 and 1",
        "soft": "BinaryCrossEntropyLoss of (50, 4) probabilities with soft targets",
        "tiny": "BinaryCrossEntropyLoss of probabilities within 1e-3 of 0 and 1",
    },
}


def mse_forward(inputs: Arrays) -> Outputs:
    """MSELoss of 1-D, 2-D and 3-D inputs with the target as an array and as a Tensor, a case by hand, a prediction
    against itself, the error for a (4, 1) prediction and a (4,) target, Module and repr."""
    labels, loss, out = LABELS["mse_forward"], MSELoss(), Outputs()
    for k in range(len(MSE_SHAPES)):
        pred, target = inputs[f"p{k}"], inputs[f"y{k}"]
        out.value(f"array_{k}", arr(loss(Tensor(pred), target.copy()), labels[f"array_{k}"]))
        out.value(f"tensor_{k}", arr(loss(Tensor(pred), Tensor(target)), labels[f"tensor_{k}"]))
    out.value("by_hand", arr(loss(Tensor([1.0, 2.0, 3.0]), [1.0, 0.0, 5.0]), labels["by_hand"]))
    out.value("itself", arr(loss(Tensor(inputs["p2"]), inputs["p2"].copy()), labels["itself"]))
    message = out.raises("broadcast", lambda: loss(Tensor(np.zeros((4, 1))), np.zeros(4)), message=False)
    out.raw("broadcast_message", message)  # judged by a rule: it must name both shapes, in the student's words
    _module_contract(out, loss)
    return out


def mse_hidden_reference_outputs(inputs: Arrays) -> Outputs:
    """MSELoss of a float64 prediction in the thousands against integer targets, and of (2, 3, 4) inputs; inputs
    unchanged."""
    labels, loss, out = LABELS["mse_hidden_reference_outputs"], MSELoss(), Outputs()
    pred64, target_int = inputs["pred64"].copy(), inputs["target_int"].copy()
    out.value("float64", arr(loss(Tensor(pred64, dtype=np.float64), target_int), labels["float64"]))
    out.value("cube", arr(loss(Tensor(inputs["p"]), Tensor(inputs["y"])), labels["cube"]))
    out.flag("unchanged", np.array_equal(pred64, inputs["pred64"]) and np.array_equal(target_int, inputs["target_int"]))
    return out


def crossentropy_log_softmax(inputs: Arrays) -> Outputs:
    """log_softmax along the last axis of 2-D (also square), 1-D and 3-D inputs, and of equal scores."""
    labels, out = LABELS["crossentropy_log_softmax"], Outputs()
    for name in [f"x{k}" for k in range(len(LOG_SOFTMAX_SHAPES))] + ["equal_rows"]:
        out.value(name, _log_softmax(inputs[name].copy(), labels[name]))
    return out


def crossentropy_log_softmax_stable(inputs: Arrays) -> Outputs:
    """log_softmax of scores up to 1e4 in size without overflow or log(0), and its invariance under shifts."""
    labels, out = LABELS["crossentropy_log_softmax_stable"], Outputs()
    strict(out, "large", lambda: _log_softmax(inputs["large"].copy(), labels["large"]))
    x = inputs["x"]
    out.value("base", _log_softmax(x.copy(), labels["base"]))
    for k, c in SHIFTS.items():
        out.value(f"shift_{k}", _log_softmax(x + np.float32(c), labels[f"shift_{k}"]))
    strict(out, "huge", lambda: _log_softmax(inputs["huge"].copy(), labels["huge"]))
    return out


def crossentropy_forward(inputs: Arrays) -> Outputs:
    """CrossEntropyLoss with the targets in four forms, equal logits, logits of +-1e4, one class, uint8 targets;
    logits unchanged, Module and repr."""
    labels, loss, out = LABELS["crossentropy_forward"], CrossEntropyLoss(), Outputs()
    logits, targets = inputs["logits"].copy(), inputs["targets"]
    for k, form in enumerate(TARGET_FORMS):
        out.value(f"form_{k}", arr(loss(Tensor(logits), _targets(form, targets)), labels[f"form_{k}"]))
    out.flag("unchanged", np.array_equal(logits, inputs["logits"]))
    out.value("uniform", arr(loss(Tensor(np.zeros((5, 7))), np.arange(5)), labels["uniform"]))
    huge = Tensor([[1e4, -1e4], [-1e4, 1e4]])
    _strict(out, "huge", lambda: loss(huge, np.array([0, 0])), labels["huge"])
    one_class = loss(Tensor(inputs["one_class"]), np.zeros(3, dtype=np.int64))
    out.value("one_class", arr(one_class, labels["one_class"]))
    big, big_targets = Tensor(inputs["big"]), inputs["big_targets"].astype(np.uint8)
    out.value("uint8", arr(loss(big, big_targets), labels["uint8"]))
    _module_contract(out, loss)
    return out


def crossentropy_targets(inputs: Arrays) -> Outputs:
    """class_indices of targets in three forms (and uint8), the loss with Tensor targets, and the errors for
    targets out of range, fractional, of the wrong shape, NaN, infinite and boolean."""
    labels, loss, out = LABELS["crossentropy_targets"], CrossEntropyLoss(), Outputs()
    targets, logits = np.array([0, 3, 5, 9]), Tensor(np.zeros((4, 10)))
    for k, form in enumerate(INDEX_FORMS):
        out.value(f"indices_{k}", np.asarray(CrossEntropyLoss.class_indices(_targets(form, targets), (4, 10))))
    uint8 = CrossEntropyLoss.class_indices(np.array([1, 0], dtype=np.uint8), (2, 3))
    out.value("uint8", np.asarray(uint8))
    out.value("tensor_targets", arr(loss(logits, Tensor(targets)), labels["tensor_targets"]))
    for k, (_, form) in enumerate(BAD_TARGETS):
        given = [0, 3, int(inputs[f"bad_target_{k}"]), 9]
        out.raises_with_raw_message(
            f"bad_{k}", lambda g=given, f=form: loss(logits, np.array(g) if f == "array" else Tensor(g))
        )
    out.raises_with_raw_message("fraction", lambda: loss(logits, Tensor([0, 1.5, 2, 3])))
    for k in range(len(BAD_TARGET_SHAPES)):
        shape = tuple(int(n) for n in inputs[f"wrong_shape_{k}"])
        out.raises_with_raw_message(f"wrong_shape_{k}", lambda s=shape: loss(logits, np.zeros(s, dtype=np.int64)))
    out.raises("nan", lambda: loss(logits, np.array([0.0, np.nan, 1.0, 2.0])), message=False)
    out.raises("inf", lambda: loss(logits, Tensor([0, 1, 2, np.inf])), message=False)
    out.raises("bool", lambda: loss(logits, np.array([True, False, True, False])), message=False)
    return out


def crossentropy_hidden_reference_outputs(inputs: Arrays) -> Outputs:
    """CrossEntropyLoss of logits up to 1e4 in size with the targets in five forms, and of moderate logits."""
    labels, loss, out = LABELS["crossentropy_hidden_reference_outputs"], CrossEntropyLoss(), Outputs()
    forms = ("an int64 array", "a float32 array", "a float64 array", "a float32 Tensor", "an int64 Tensor")
    for k, form in enumerate(forms):
        name = f"form_{k}"
        _strict(out, name, lambda f=form: loss(Tensor(inputs["logits"]), _targets(f, inputs["targets"])), labels[name])
    small = loss(Tensor(inputs["small"]), _targets("a uint8 array", inputs["small_targets"]))
    out.value("moderate", arr(small, labels["moderate"]))
    return out


def bce_forward(inputs: Arrays) -> Outputs:
    """BinaryCrossEntropyLoss of 1-D, 2-D and 3-D inputs with the target as an array and as a Tensor, p = 0.5, soft
    targets, float64 inputs, the error for a (4, 1) prediction and a (4,) target, Module and repr."""
    labels, loss, out = LABELS["bce_forward"], BinaryCrossEntropyLoss(), Outputs()
    for k in range(len(MSE_SHAPES)):
        p, y = inputs[f"p{k}"], inputs[f"y{k}"]
        out.value(f"array_{k}", arr(loss(Tensor(p), y.copy()), labels[f"array_{k}"]))
        out.value(f"tensor_{k}", arr(loss(Tensor(p), Tensor(y)), labels[f"tensor_{k}"]))
    out.value("coin", arr(loss(Tensor([0.5, 0.5]), [0.0, 1.0]), labels["coin"]))
    soft = loss(Tensor([0.2, 0.7, 0.9]), np.array([0.1, 0.5, 0.8], dtype=np.float32))
    out.value("soft", arr(soft, labels["soft"]))
    p64 = Tensor(inputs["p64"], dtype=np.float64)
    out.value("float64", arr(loss(p64, inputs["y64"].copy()), labels["float64"]))
    message = out.raises("broadcast", lambda: loss(Tensor(np.full((4, 1), 0.5)), np.ones(4)), message=False)
    out.raw("broadcast_message", message)  # judged by a rule: it must name both shapes, in the student's words
    _module_contract(out, loss)
    return out


def bce_clipped(inputs: Arrays) -> Outputs:
    """eps, and the loss at p = 0 and 1 (every target), in a batch, below eps and on a grid of soft targets, without
    log(0) or NaN; the losses are raw outputs, judged from the student's eps by the pack."""
    loss, out = BinaryCrossEntropyLoss(), Outputs()
    eps = float(BinaryCrossEntropyLoss.eps)
    out.flag("eps_small", 0 < eps <= 1e-6)
    out.flag("eps_below_one", bool(np.float32(1 - eps) < 1))
    out.raw("eps", np.array(eps, dtype=np.float64))
    for k, (p, y) in enumerate(inputs["corners"]):
        _strict(out, f"corner_{k}", lambda p=p, y=y: loss(Tensor([p]), [y]), "BinaryCrossEntropyLoss", raw=True)
    batch = lambda: loss(Tensor(inputs["batch_p"]), inputs["batch_y"].tolist())  # noqa: E731
    _strict(out, "batch", batch, "BinaryCrossEntropyLoss", raw=True)
    grid = lambda: loss(Tensor(inputs["grid_p"]), Tensor(inputs["grid_y"]))  # noqa: E731
    _strict(out, "grid", grid, "BinaryCrossEntropyLoss", raw=True)
    with np.errstate(all="ignore"):  # p = 0 is judged by corner_1; here only the clip's lower end matters
        tiny, zero = loss(Tensor([1e-30]), [1.0]), loss(Tensor([0.0]), [1.0])
    out.flag("below_eps", np.array_equal(arr(tiny, "BinaryCrossEntropyLoss"), arr(zero, "BinaryCrossEntropyLoss")))
    return out


def bce_hidden_reference_outputs(inputs: Arrays) -> Outputs:
    """BinaryCrossEntropyLoss of a batch with probabilities of exactly 0 and 1 (raw: judged from the student's eps),
    of soft targets, and of probabilities close to 0 and 1 but above any valid eps."""
    labels, loss, out = LABELS["bce_hidden_reference_outputs"], BinaryCrossEntropyLoss(), Outputs()
    out.raw("eps", np.array(float(BinaryCrossEntropyLoss.eps), dtype=np.float64))
    extremes = lambda: loss(Tensor(inputs["extreme_p"]), inputs["extreme_y"].copy())  # noqa: E731
    _strict(out, "extremes", extremes, labels[key(ERROR, "extremes")], raw=True)
    out.value("soft", arr(loss(Tensor(inputs["soft_p"]), Tensor(inputs["soft_y"])), labels["soft"]))
    _strict(out, "tiny", lambda: loss(Tensor(inputs["tiny_p"]), inputs["tiny_y"].copy()), labels["tiny"])
    return out
