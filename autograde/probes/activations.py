"""Probes for module 02 (activations and Module). Runs inside the sandbox: imports only numpy, the stdlib and the
student's package. Outputs are recorded by kind as in probes/tensor.py (probes/protocol.py).
"""

from collections.abc import Callable

import numpy as np

from tinytorch.core.activations import Module, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Tensor

from .common import Arrays, Outputs, arr, strict
from .protocol import FLAG, SHAPE, TEXT, key


def _strict(out: Outputs, name: str, fn: Callable[[], Tensor], what: str) -> None:
    """Value `name`: fn()'s data with overflow/invalid/divide raising; error `name`: what that raised, or ""."""
    strict(out, name, lambda: arr(fn(), what))


ACTIVATIONS = {
    "relu": ("ReLU()", ReLU),
    "sigmoid": ("Sigmoid()", Sigmoid),
    "tanh": ("Tanh()", Tanh),
    "softmax": ("Softmax()", Softmax),
    "softmax_dim0": ("Softmax(dim=0)", lambda: Softmax(dim=0)),
}
CONTRACT_SHAPES = [(7,), (2, 3), (2, 3, 4)]
SHIFTS = {"m50": -50.0, "p30": 30.0, "p500": 500.0}
HIDDEN_DIMS = {"0": 0, "1": 1, "2": 2, "m1": -1, "m2": -2}


def _contract_output_labels(name: str, call: str) -> dict[str, str]:
    """The call's own label (for errors) and those of the shape and dtype the contract compares."""
    return {name: call, key(SHAPE, name): f"shape of {call}", key(TEXT, name): f"dtype of {call}"}


def _contract_labels() -> dict[str, str]:
    labels = {}
    for act, (name, _) in ACTIVATIONS.items():
        for k, shape in enumerate(CONTRACT_SHAPES):
            for dt in ("float32", "float64"):
                labels |= _contract_output_labels(f"{act}_{dt}_{k}", f"{name} on a {dt} {shape} input")
        labels[key(FLAG, f"{act}_no_params")] = f"{name}.parameters() should be []"
        labels[key(FLAG, f"{act}_training")] = f"{name} should start in training mode (training is True)"
        labels[key(FLAG, f"{act}_module")] = f"{name} should be a Module"
        labels[key(FLAG, f"{act}_eval")] = f"{name}.eval() should return the layer itself with training False"
        labels |= _contract_output_labels(f"eval_{act}", f"{name} in eval mode on Tensor(np.ones((2, 2)))")
    for act in ("relu", "sigmoid", "tanh"):
        labels[key(TEXT, f"repr_{act}")] = f"repr({ACTIVATIONS[act][0]})"
    return labels | {key(FLAG, "input_unchanged"): "activations must not change their input in place"}


LABELS: dict[str, dict[str, str]] = {
    "relu_forward": {"small": "ReLU on [[-3, -0.5, 0], [0.25, 2, 7.5]]", "cube": "ReLU on a (4, 5, 6) input"},
    "sigmoid_forward": {"line": "Sigmoid on 81 points in [-20, 20]", "random": "Sigmoid on a (3, 4) input"},
    "sigmoid_stable": {
        "float32": "Sigmoid on float32 inputs with |x| up to 1000",
        "float64": "Sigmoid on float64 inputs with |x| up to 1000",
        "big": "Sigmoid on a (50, 20) input with values in the hundreds",
    },
    "tanh_forward": {"extreme": "Tanh on inputs with |x| up to 1000", "cube": "Tanh on a (2, 3, 4) input"},
    "softmax_forward": {
        "x0": "Softmax of a (4, 5) input",
        "x1": "Softmax of a (3, 3) input",
        "x2": "Softmax of a (6,) input",
        "equal_rows": "Softmax of [[0, 0, 0, 0], [1, 2, 3, 4]]",
    },
    "softmax_stable": {
        "pm1000": "Softmax of rows around +1000 and -1000",
        "base": "Softmax of a (5, 4) input",
        **{f"shift_{k}": f"Softmax(x + {c})" for k, c in SHIFTS.items()},
        "huge64": "Softmax of float64 scores of size 1e4 and 3e4",
    },
    "softmax_dim": {
        "dim_default": "Softmax().dim",
        key(TEXT, "repr_default"): "repr(Softmax())",
        key(TEXT, "repr_dim0"): "repr(Softmax(dim=0))",
        "dim0": "Softmax(dim=0) of a (3, 4) input",
        **{f"cube_{k}": f"Softmax(dim={d}) of a (2, 3, 4) input" for k, d in (("1", 1), ("0", 0), ("m1", -1))},
        "large_dim0": "Softmax(dim=0) of [[1000, 0], [1001, 0]]",
    },
    "module_activations_contract": _contract_labels(),
    "relu_hidden_infinities": {
        "float32": "ReLU on float32 values including -inf, -0.0 and inf",
        "float64": "ReLU on float64 values including -inf, -0.0 and inf",
        key(FLAG, "input_unchanged"): "ReLU must not change its input in place",
    },
    "softmax_hidden_reference_outputs": {
        **{f"dim_{k}": f"Softmax(dim={d}) of a (3, 4, 5) input" for k, d in HIDDEN_DIMS.items()},
        "float64": "Softmax of a float64 (4, 6) input",
        "spread": "Softmax of rows spanning -1000 to 1000",
    },
}


def _each(out: Outputs, names, fn: Callable[[str], Tensor], labels: dict[str, str]) -> Outputs:
    """Value `name` for each name: the data of fn(name)."""
    for name in names:
        out.value(name, arr(fn(name), labels[name]))
    return out


def relu_forward(inputs: Arrays) -> Outputs:
    """ReLU on a small hand-made input and a random 3-D input."""
    return _each(Outputs(), ("small", "cube"), lambda k: ReLU()(Tensor(inputs[k])), LABELS["relu_forward"])


def sigmoid_forward(inputs: Arrays) -> Outputs:
    """Sigmoid on [-20, 20] (including 0) and on a random 2-D input."""
    return _each(Outputs(), ("line", "random"), lambda k: Sigmoid()(Tensor(inputs[k])), LABELS["sigmoid_forward"])


def sigmoid_stable(inputs: Arrays) -> Outputs:
    """Sigmoid for |x| up to 1000 in float32 and float64 without overflow warnings turned errors."""
    labels, out = LABELS["sigmoid_stable"], Outputs()
    for dt in ("float32", "float64"):
        _strict(out, dt, lambda dt=dt: Sigmoid()(Tensor(inputs["extreme"], dtype=getattr(np, dt))), labels[dt])
    _strict(out, "big", lambda: Sigmoid()(Tensor(inputs["big"])), labels["big"])
    return out


def tanh_forward(inputs: Arrays) -> Outputs:
    """Tanh for |x| up to 1000 without overflow, and on a random 3-D input."""
    out = Outputs()
    _strict(out, "extreme", lambda: Tanh()(Tensor(inputs["extreme"])), LABELS["tanh_forward"]["extreme"])
    return _each(out, ("cube",), lambda k: Tanh()(Tensor(inputs[k])), LABELS["tanh_forward"])


def softmax_forward(inputs: Arrays) -> Outputs:
    """Softmax along the last axis for 2-D (also square) and 1-D inputs."""
    names = ("x0", "x1", "x2", "equal_rows")
    return _each(Outputs(), names, lambda k: Softmax()(Tensor(inputs[k])), LABELS["softmax_forward"])


def softmax_stable(inputs: Arrays) -> Outputs:
    """Softmax of huge scores without overflow, and its invariance under shifting all scores."""
    labels, out = LABELS["softmax_stable"], Outputs()
    _strict(out, "pm1000", lambda: Softmax()(Tensor(inputs["pm1000"])), labels["pm1000"])
    x = inputs["x"]
    out.value("base", arr(Softmax()(Tensor(x)), labels["base"]))
    for k, c in SHIFTS.items():
        out.value(f"shift_{k}", arr(Softmax()(Tensor(x + np.float32(c))), labels[f"shift_{k}"]))
    _strict(out, "huge64", lambda: Softmax()(Tensor(inputs["huge64"], dtype=np.float64)), labels["huge64"])
    return out


def softmax_dim(inputs: Arrays) -> Outputs:
    """Softmax's dim argument: default -1, repr, dim=0 on 2-D and every dim on 3-D, stable along dim 0."""
    labels, out = LABELS["softmax_dim"], Outputs()
    out.value("dim_default", np.array(Softmax().dim, dtype=np.int64))
    out.text("repr_default", repr(Softmax()))
    out.text("repr_dim0", repr(Softmax(dim=0)))
    out.value("dim0", arr(Softmax(dim=0)(Tensor(inputs["x"])), labels["dim0"]))
    for k, d in (("1", 1), ("0", 0), ("m1", -1)):
        out.value(f"cube_{k}", arr(Softmax(dim=d)(Tensor(inputs["cube"])), labels[f"cube_{k}"]))
    _strict(out, "large_dim0", lambda: Softmax(dim=0)(Tensor(inputs["large"])), labels["large_dim0"])
    return out


def module_activations_contract(inputs: Arrays) -> Outputs:
    """Every activation is a Module, returns float32 Tensors of the input's shape, has no parameters, starts in
    training mode, has a plain repr, leaves its input alone, and (hidden) eval() returns itself."""
    labels, out = LABELS["module_activations_contract"], Outputs()
    acts = {key: make() for key, (_, make) in ACTIVATIONS.items()}
    unchanged = True
    for k in range(len(CONTRACT_SHAPES)):
        for dt in ("float32", "float64"):
            x = Tensor(inputs[f"x{k}"], dtype=getattr(np, dt))
            before = np.array(x.data)
            for act, layer in acts.items():
                name = f"{act}_{dt}_{k}"
                _contract(out, name, arr(layer(x), labels[name]))
                unchanged = unchanged and np.array_equal(x.data, before)
    out.flag("input_unchanged", unchanged)
    for act, layer in acts.items():
        out.flag(f"{act}_no_params", layer.parameters() == [])
        out.flag(f"{act}_training", layer.training is True)
        out.flag(f"{act}_module", isinstance(layer, Module))
    for act in ("relu", "sigmoid", "tanh"):
        out.text(f"repr_{act}", repr(acts[act]))
    for act, layer in acts.items():
        out.flag(f"{act}_eval", layer.eval() is layer and layer.training is False)
        _contract(out, f"eval_{act}", arr(layer(Tensor(np.ones((2, 2)))), labels[f"eval_{act}"]))
    return out


def _contract(out: Outputs, name: str, y: np.ndarray) -> None:
    """What the contract promises of an output, its shape and dtype, not its values: those are each activation's own
    checks, so a wrong value costs its own component only."""
    out.shape(name, y.shape)
    out.text(name, y.dtype.name)


def relu_hidden_infinities(inputs: Arrays) -> Outputs:
    """ReLU maps -inf to 0 and keeps inf, for float32 and float64 inputs, without changing the input."""
    labels, out = LABELS["relu_hidden_infinities"], Outputs()
    unchanged = True
    for dt in ("float32", "float64"):
        x = Tensor(inputs["x"], dtype=getattr(np, dt))
        before = np.array(x.data)
        with np.errstate(invalid="ignore", over="ignore"):
            out.value(dt, arr(ReLU()(x), labels[dt]))
        unchanged = unchanged and np.array_equal(x.data, before)
    out.flag("input_unchanged", unchanged)
    return out


def softmax_hidden_reference_outputs(inputs: Arrays) -> Outputs:
    """Softmax along every dim of a 3-D input, of a float64 input and of rows spanning -1000..1000."""
    labels, out = LABELS["softmax_hidden_reference_outputs"], Outputs()
    for k, d in HIDDEN_DIMS.items():
        out.value(f"dim_{k}", arr(Softmax(dim=d)(Tensor(inputs["cube"])), labels[f"dim_{k}"]))
    out.value("float64", arr(Softmax()(Tensor(inputs["x64"], dtype=np.float64)), labels["float64"]))
    _strict(out, "spread", lambda: Softmax()(Tensor(inputs["spread"])), labels["spread"])
    return out
