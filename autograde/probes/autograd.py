"""Probes for module 05 (autograd). Runs inside the sandbox: imports only numpy, the stdlib and the student's
package. Outputs are recorded by kind as in probes/tensor.py (probes/protocol.py).

Modules 01-04 are the reference's here and 05 is the student's, so `tinytorch.core.autograd` is imported first:
importing it installs the student's autograd on the reference Tensor, activations, losses and layers, and every
Tensor below is built after that. Gradients are compared with the reference's at float32 tolerance, except where
randomness decides them: Dropout's masks are read from its outputs and its gradients judged by the pack from them.
Each probe starts with recording switched on, so that one probe's broken no_grad() costs only its own checks.
"""

import numpy as np

import tinytorch.core.autograd as ag  # first: installs the student's autograd on the reference classes
from tinytorch.core.activations import Module, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

from .common import Arrays, ContractError, Outputs, arr, linear_from, strict
from .protocol import ERROR, FLAG, key

UNBROADCAST_SHAPES = ((4, 3, 5), (3, 5), (5,), (3, 1), (4, 1, 5), (1, 1, 1), ())  # from a (4, 3, 5) gradient
ELEMENTWISE = ("add", "sub", "mul", "div")
BROADCAST_PAIRS = (((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((4,), (2, 3, 4)))
MATMUL_SHAPES = (((4, 3), (3, 5)), ((2, 4, 3), (3, 5)), ((2, 4, 3), (2, 3, 5)), ((3,), (3, 5)), ((4, 3), (3,)),
                 ((3,), (3,)), ((3,), (2, 3, 4)))  # fmt: skip
REDUCE_AXES = (None, 0, -1, (0, 2))
ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax, "softmax0": lambda: Softmax(dim=0)}
LINEAR_SHAPES = ((5, 4), (4,), (2, 3, 4))
NONSCALAR_SHAPES = ((2, 3), (1, 4), (5,))


def _start() -> None:
    """Recording on, as at import, whatever the previous probe left behind."""
    ag.GradMode.enabled = True


def _f32(g, what: str) -> np.ndarray:
    """A rule's gradient as the float32 array the engine stores (Node.input_grads casts it the same way)."""
    a = np.asarray(g)
    if a.dtype.kind not in "biuf":
        raise ContractError(f"{what} should be a NumPy array of numbers, got {type(g).__name__}")
    return np.asarray(a, dtype=np.float32)


def _sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """The probe's own unbroadcast, so that the rule checks do not depend on the student's."""
    g = np.asarray(g)
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and g.shape[axis] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


def _grad(t: Tensor, what: str) -> np.ndarray:
    """The data of t.grad, which must be a Tensor."""
    if not isinstance(t.grad, Tensor):
        got = "None" if t.grad is None else f"a {type(t.grad).__name__}"
        raise ContractError(f"{what} should be a Tensor after backward(), got {got}")
    return arr(t.grad, what)


def _backward(t: Tensor, *args, **kwargs) -> None:
    """t.backward(...); a KeyError escaping it is reported without its key, an id() that means nothing to the student
    and changes from run to run."""
    try:
        t.backward(*args, **kwargs)
    except KeyError:
        raise ContractError(
            "backward() raised KeyError: a gradient was looked up for a Tensor before any had arrived for it"
        ) from None


def _leaf(a: np.ndarray) -> Tensor:
    return Tensor(a, requires_grad=True)


def _records(t) -> bool:
    return isinstance(t, Tensor) and t.requires_grad and t.grad_fn is not None


def _records_nothing(t) -> bool:
    return isinstance(t, Tensor) and not t.requires_grad and t.grad_fn is None


# --------------------------------------------------------------------------- nograd


def nograd_context(inputs: Arrays) -> Outputs:
    _start()
    out, mode = Outputs(), ag.GradMode
    out.flag("default_on", mode.enabled is True)
    try:
        with ag.no_grad():
            out.flag("inside_off", mode.enabled is False)
            with ag.no_grad():
                out.flag("nested_off", mode.enabled is False)
            out.flag("after_inner_off", mode.enabled is False)
        out.flag("after_on", mode.enabled is True)

        def raising():
            with ag.no_grad():
                raise KeyError("inside the block")

        out.raises("block_error", raising, message=False)
        out.flag("restored_after_error", mode.enabled is True)
    finally:
        _start()
    return out


def nograd_hidden_inference(inputs: Arrays) -> Outputs:
    _start()
    out, x, lin = Outputs(), _leaf(inputs["x"]), linear_from(inputs["weight"], inputs["bias"])
    ops = {
        "arithmetic": lambda: (x * 2.0 + 1.0 - x / 3.0).sum(axis=0),
        "matmul": lambda: (x @ x.T).mean(),
        "shape": lambda: x.reshape(20).transpose(),
        "activations": lambda: Softmax()(Tanh()(Sigmoid()(ReLU()(x)))),
        "loss": lambda: MSELoss()(x, inputs["target"]) + CrossEntropyLoss()(x, inputs["classes"]),
        "layers": lambda: Dropout(0.5)(lin(x)),
    }
    try:
        with ag.no_grad():
            results = {name: op() for name, op in ops.items()}
            with ag.no_grad():
                pass
            results["after_nested"] = x * 2.0
        for name, result in results.items():
            out.flag(f"{name}_unrecorded", _records_nothing(result))
        for name in ("arithmetic", "matmul", "shape", "activations", "loss"):
            out.value(name, arr(results[name], f"{name} under no_grad()"))
        out.flag("resumes", _records(x * 2.0) and _records(lin(x)))
    finally:
        _start()
    return out


# --------------------------------------------------------------------------- ops: the rules on arrays


def ops_unbroadcast(inputs: Arrays) -> Outputs:
    _start()
    out, g = Outputs(), inputs["g"]
    for k, shape in enumerate(UNBROADCAST_SHAPES):
        out.value(f"to_{k}", _f32(ag.OpGrads.unbroadcast(g.copy(), shape), f"unbroadcast to {shape}"))
    out.value("middle", _f32(ag.OpGrads.unbroadcast(inputs["g2"].copy(), (1, 3)), "unbroadcast (2, 1, 3) to (1, 3)"))
    return out


def _binary_rule(out: Outputs, name: str, rule: str, a, b, g: np.ndarray) -> None:
    """Record `rule`'s gradients for a and b (each summed to its operand's shape by the probe)."""
    forward = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[rule]
    grads = getattr(ag.OpGrads, rule)(g, forward(a, b), a, b)
    if len(grads) < 2:
        raise ContractError(f"OpGrads.{rule} should return two gradients, got {len(grads)}")
    for side, operand, grad in (("a", a, grads[0]), ("b", b, grads[1])):
        if isinstance(operand, np.ndarray):
            shape = np.shape(operand)
            grad = _sum_to(np.broadcast_to(grad, np.broadcast_shapes(np.shape(g), shape)), shape)
            out.value(f"{name}_{side}", _f32(grad, f"OpGrads.{rule}: gradient for {side}"))


def ops_elementwise_rules(inputs: Arrays) -> Outputs:
    _start()
    out, a, b, g = Outputs(), inputs["a"], inputs["b"], inputs["g"]
    for rule in ELEMENTWISE:
        _binary_rule(out, rule, rule, a, b, g)
        _binary_rule(out, f"{rule}_wide", rule, inputs["wide_a"], inputs["wide_b"], inputs["wide_g"])
    _binary_rule(out, "mul_number", "mul", a, 3.0, g)
    _binary_rule(out, "div_number", "div", a, 4.0, g)
    return out


def ops_matmul_rule(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    for k, (shape_a, shape_b) in enumerate(MATMUL_SHAPES):
        a, b, g = inputs[f"a{k}"], inputs[f"b{k}"], inputs[f"g{k}"]
        grad_a, grad_b = ag.OpGrads.matmul(g, a @ b, a, b)
        out.value(f"a{k}", _f32(_sum_to(grad_a, shape_a), f"{shape_a} @ {shape_b}: gradient for a"))
        out.value(f"b{k}", _f32(_sum_to(grad_b, shape_b), f"{shape_a} @ {shape_b}: gradient for b"))
    return out


def ops_reduce_reshape_rules(inputs: Arrays) -> Outputs:
    _start()
    out, a = Outputs(), inputs["a"]
    for name in ("sum", "mean"):
        for k, axis in enumerate(REDUCE_AXES):
            for keepdims in (False, True):
                result = getattr(np, name)(a, axis=axis, keepdims=keepdims)
                g = inputs[f"g_{name}_{k}_{int(keepdims)}"]
                (grad,) = getattr(ag.OpGrads, name)(g, result, a, axis, keepdims)
                what = f"OpGrads.{name} with axis={axis}, keepdims={keepdims}"
                out.value(f"{name}_{k}_{int(keepdims)}", _f32(np.broadcast_to(grad, a.shape), what))
    (grad,) = ag.OpGrads.reshape(inputs["g_reshape"], a.reshape(12, 5), a, 12, 5)
    out.value("reshape", _f32(grad, "OpGrads.reshape"))
    (grad,) = ag.OpGrads.transpose(inputs["g_t"], np.swapaxes(a, -2, -1), a)
    out.value("transpose", _f32(grad, "OpGrads.transpose"))
    (grad,) = ag.OpGrads.transpose(inputs["g_t02"], np.swapaxes(a, 0, 2), a, 0, 2)
    out.value("transpose02", _f32(grad, "OpGrads.transpose(0, 2)"))
    (grad,) = ag.OpGrads.transpose(inputs["v"], inputs["v"], inputs["v"])
    out.value("transpose1d", _f32(grad, "OpGrads.transpose of a 1-D array"))
    return out


# --------------------------------------------------------------------------- backward: the engine


def backward_chain_rule(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    x, w, b = _leaf([2.0]), _leaf([-3.0]), _leaf([1.0])
    z = x * w + b
    y = z * z
    out.flag("records", _records(y))
    out.flag("no_grad_before", x.grad is None)
    _backward(y)
    for name, t in (("x", x), ("w", w), ("b", b)):
        out.value(f"d{name}", _grad(t, f"{name}.grad"))
    out.flag("intermediate_no_grad", z.grad is None)

    a, b = _leaf(inputs["a"]), _leaf(inputs["b"])
    _backward(((a * b - b / a) * 3.0 + 2.0 / a).mean())
    out.value("poly_a", _grad(a, "a.grad"))
    out.value("poly_b", _grad(b, "b.grad"))

    m, v = _leaf(inputs["m"]), _leaf(inputs["v"])
    _backward((v @ m).sum() + (m.T.reshape(12) * 2.0).sum(axis=0))
    out.value("matmul_m", _grad(m, "m.grad"))
    out.value("matmul_v", _grad(v, "v.grad"))

    t = _leaf(inputs["t"])
    _backward((t.transpose(0, 2).reshape(4, 6) @ Tensor(inputs["ones"])).mean())
    out.value("reshaped", _grad(t, "t.grad"))
    return out


def backward_broadcasting(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    ops = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q, "mul": lambda p, q: p * q, "div": lambda p, q: p / q}
    for k in range(len(BROADCAST_PAIRS)):
        g = Tensor(inputs[f"g{k}"])
        for name, op in ops.items():
            a, b = _leaf(inputs[f"a{k}"]), _leaf(inputs[f"b{k}"])
            _backward((op(a, b) * g).sum())
            out.value(f"{name}{k}_a", _grad(a, "a.grad"))
            out.value(f"{name}{k}_b", _grad(b, "b.grad"))
    x = _leaf(inputs["x"])
    _backward((2.0 * x + 1 - x / 4 + 3 / x - np.ones(3, dtype=np.float32) * x).sum())
    out.value("numbers", _grad(x, "x.grad"))
    s, m = _leaf(np.float32(2.0)), _leaf(inputs["m"])
    _backward((m * s).sum())
    out.value("scalar_s", _grad(s, "s.grad"))
    out.value("scalar_m", _grad(m, "m.grad"))
    return out


# The engine's checks build their graphs with the probe's own rules (through the given _attach), so that they judge
# graph_order and backward() whatever the student's OpGrads do with equal shapes.


def _recorded(rule, operands: tuple, value: np.ndarray) -> Tensor:
    return ag._attach(Tensor(value), rule, operands, (None, *(t.data for t in operands)))


def _product_rule(grad, out, a, b) -> tuple:
    return grad * b, grad * a


def _sum_rule(grad, out, a, b) -> tuple:
    return grad, grad


def _total_rule(grad, out, a) -> tuple:
    return (np.broadcast_to(grad, a.shape),)


def _mul(a: Tensor, b: Tensor) -> Tensor:
    return _recorded(_product_rule, (a, b), a.data * b.data)


def _add(a: Tensor, b: Tensor) -> Tensor:
    return _recorded(_sum_rule, (a, b), a.data + b.data)


def _total(a: Tensor) -> Tensor:
    return _recorded(_total_rule, (a,), a.data.sum())


def _times(a: Tensor, c: float) -> Tensor:
    return _mul(a, Tensor(np.full(a.shape, c, dtype=np.float32)))


def backward_accumulate_order_depth(inputs: Arrays) -> Outputs:
    _start()
    out, w = Outputs(), _leaf(inputs["w"])
    for step in range(3):
        _backward(_total(_mul(w, w)))
        out.value(f"step{step}", _grad(w, "w.grad"))
    w.grad = None
    _backward(_total(_times(w, 5.0)))
    out.value("after_reset", _grad(w, "w.grad"))

    x = _leaf(inputs["x"])
    h = _times(x, 2.0)
    _backward(_total(_add(_add(_mul(h, h), _times(h, 4.0)), x)))
    out.value("diamond", _grad(x, "x.grad"))

    a = _leaf([1.0])
    b = _times(a, 2.0)
    c = _add(a, b)
    d = _mul(b, c)
    cd = _mul(c, d)
    e = _add(cd, b)  # b feeds three nodes, c two: Tensors reached by several paths
    graph = (a, b, c, d, cd, e)
    order = e.graph_order()
    ids = [id(t) for t in order]
    out.flag("each_once", sorted(ids) == sorted(id(t) for t in graph))
    out.flag("last", bool(order) and order[-1] is e)
    position = {i: n for n, i in enumerate(ids)}
    out.flag(
        "inputs_first",
        all(id(t) in position for t in graph)
        and [position[id(t)] for t in graph] == sorted(position[id(t)] for t in graph),
    )
    _backward(e)
    out.value("shared", _grad(a, "a.grad"))

    x = _leaf(np.float32(1.0))
    y = x
    for _ in range(2000):
        y = _times(y, 1.001)
    _backward(y)
    out.flag("deep", bool(np.isclose(_grad(x, "x.grad"), 1.001**2000, rtol=1e-3)))
    leaf = _leaf([4.0])
    _backward(leaf, Tensor([2.0]))
    out.value("leaf", _grad(leaf, "leaf.grad"))
    return out


def _nonscalar(out: Outputs, name: str, t: Tensor) -> None:
    """Error `name`: what t.backward() raises; flag `name`_shape: its message names t's shape."""
    message = out.raises(name, t.backward, message=False)
    out.flag(f"{name}_shape", str(t.shape) in message)


def backward_errors_and_freeing(inputs: Arrays) -> Outputs:
    _start()
    out, x = Outputs(), _leaf(inputs["x"])
    y = _times(x, 3.0)
    _nonscalar(out, "nonscalar", y)
    _backward(y, Tensor(inputs["g"]))
    out.value("given", _grad(x, "x.grad"))
    out.raises("no_requires_grad", Tensor([1.0]).backward, message=False)

    x.grad = None
    loss = _total(_mul(x, x))
    _backward(loss, retain_graph=True)
    _backward(loss)
    out.value("retained", _grad(x, "x.grad"))
    message = out.raises("freed", loss.backward, message=False)
    out.flag("freed_names_retain_graph", "retain_graph" in message)

    d = _times(x, 2.0).detach()
    out.flag("detached", _records_nothing(d))
    out.value("detached", arr(d, "detach()"))
    return out


class _Model(Module):
    """Two parameters, w and v, and loss(x) = sum(w * x + v * v * x), built with the probe's rules."""

    def __init__(self, w: np.ndarray, v: np.ndarray):
        self.w, self.v = _leaf(w), _leaf(v)

    def parameters(self) -> list:
        return [self.w, self.v]

    def forward(self, x: Tensor) -> Tensor:
        return _total(_add(_mul(self.w, x), _mul(_mul(self.v, self.v), x)))


def backward_hidden_accumulate_zero(inputs: Arrays) -> Outputs:
    _start()
    out, model = Outputs(), _Model(inputs["w"], inputs["v"])
    for step, x in enumerate((inputs["x"], inputs["x"], inputs["x2"])):
        _backward(model(Tensor(x)))
        for name, p in zip("wv", model.parameters(), strict=True):
            out.value(f"pass{step}_{name}", _grad(p, f"{name}.grad"))
    model.zero_grad()
    out.flag("zeroed", all(p.grad is None for p in model.parameters()))
    _backward(model(Tensor(inputs["x2"])))
    for name, p in zip("wv", model.parameters(), strict=True):
        out.value(f"fresh_{name}", _grad(p, f"{name}.grad"))
    return out


def backward_hidden_nonscalar_error(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    for k, shape in enumerate(NONSCALAR_SHAPES):
        _nonscalar(out, f"shape{k}", _times(_leaf(np.ones(shape)), 2.0))
    for k, value in enumerate((np.ones((1, 1)), np.float32(3.0))):
        t = _leaf(value)
        _backward(_times(t, 2.0))
        out.value(f"single{k}", _grad(t, "t.grad"))
    return out


# --------------------------------------------------------------------------- activation and loss gradients


def activation_grads(inputs: Arrays) -> Outputs:
    _start()
    out, g = Outputs(), Tensor(inputs["g"])
    for name, make in ACTIVATIONS.items():
        x = _leaf(inputs["x"])
        y = make()(x)
        out.flag(f"{name}_records", _records(y))
        out.value(f"{name}_out", arr(y, f"{name} forward"))
        _backward(y, g)
        out.value(f"{name}_grad", _grad(x, f"{name}: x.grad"))
    x3 = _leaf(inputs["x3"])
    _backward(Softmax(dim=1)(x3), Tensor(inputs["g3"]))
    out.value("softmax3d_grad", _grad(x3, "Softmax(dim=1): x.grad"))
    out.flag("plain_input_records_nothing", _records_nothing(Sigmoid()(Tensor(inputs["x"]))))

    def extreme() -> np.ndarray:
        big = _leaf(inputs["big"])
        _backward(Sigmoid()(big), Tensor(np.ones(3, dtype=np.float32)))
        return _grad(big, "x.grad")

    strict(out, "sigmoid_extreme", extreme)
    return out


def loss_grads(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    p = _leaf(inputs["p"])
    _backward(MSELoss()(p, inputs["t"]))
    out.value("mse", _grad(p, "pred.grad"))
    for name, targets in (("ce", inputs["targets"]), ("ce_tensor", Tensor(inputs["targets"]))):
        z = _leaf(inputs["z"])
        _backward(CrossEntropyLoss()(z, targets))
        out.value(name, _grad(z, "logits.grad"))
    q = _leaf(inputs["q"])
    _backward(BinaryCrossEntropyLoss()(q, inputs["y"]))
    out.value("bce", _grad(q, "probs.grad"))
    return out


def loss_hidden_cross_entropy_huge_logits(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    for name in ("huge", "mixed"):

        def grad(name=name) -> np.ndarray:
            z = _leaf(inputs[name])
            _backward(CrossEntropyLoss()(z, inputs[f"{name}_targets"]))
            return _grad(z, "logits.grad")

        strict(out, name, grad)
    return out


# --------------------------------------------------------------------------- layers


def layers_linear_grads(inputs: Arrays) -> Outputs:
    _start()
    out, layer = Outputs(), linear_from(inputs["weight"], inputs["bias"])
    out.flag("requires_grad", layer.weight.requires_grad is True and layer.bias.requires_grad is True)
    for k in range(len(LINEAR_SHAPES)):
        layer.zero_grad()
        x = _leaf(inputs[f"x{k}"])
        y = layer(x)
        out.value(f"y{k}", arr(y, "Linear forward"))
        _backward(y, Tensor(inputs[f"g{k}"]))
        out.value(f"x{k}", _grad(x, "x.grad"))
        out.value(f"w{k}", _grad(layer.weight, "weight.grad"))
        out.value(f"b{k}", _grad(layer.bias, "bias.grad"))
    no_bias = linear_from(inputs["weight"], None)
    _backward(no_bias(Tensor(inputs["x0"])), Tensor(inputs["g0"]))
    out.value("no_bias_w", _grad(no_bias.weight, "weight.grad without bias"))
    layer.zero_grad()
    out.flag("zeroed", layer.weight.grad is None and layer.bias.grad is None)
    return out


def _dropout_pass(out: Outputs, name: str, drop: Dropout, x: np.ndarray, g: np.ndarray) -> None:
    """Raw `name`_out and `name`_grad: Dropout's output for x and x's gradient for upstream g."""
    leaf = _leaf(x)
    y = drop(leaf)
    out.raw(f"{name}_out", arr(y, "Dropout forward"))
    _backward(y, Tensor(g))
    out.raw(f"{name}_grad", _grad(leaf, "x.grad"))


def layers_dropout_mask(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    for k, p in enumerate(inputs["ps"].tolist()):
        _dropout_pass(out, f"p{k}", Dropout(p), inputs["x"], inputs["g"])
    drop = Dropout(0.3).eval()
    x = _leaf(inputs["x"])
    _backward(drop(x), Tensor(np.full(x.shape, 2.0, dtype=np.float32)))
    out.value("eval", _grad(x, "x.grad in eval mode"))
    return out


def _mlp_params(model: Sequential, inputs: Arrays) -> None:
    for k, p in enumerate(model.parameters()):
        p.data[...] = inputs[f"p{k}"]


def layers_mlp_end_to_end(inputs: Arrays) -> Outputs:
    _start()
    out = Outputs()
    model = Sequential(Linear(5, 8), Tanh(), Linear(8, 6), Sigmoid(), Linear(6, 3))
    _mlp_params(model, inputs)
    model.zero_grad()
    loss = CrossEntropyLoss()(model(Tensor(inputs["x"])), inputs["targets"])
    out.value("loss", arr(loss, "the loss"))
    _backward(loss)
    for k, p in enumerate(model.parameters()):
        out.value(f"p{k}", _grad(p, f"parameter {k}'s grad"))
    return out


def layers_hidden_shared_parameter(inputs: Arrays) -> Outputs:
    _start()
    out, shared = Outputs(), linear_from(inputs["weight"], inputs["bias"])
    _backward(Sequential(shared, shared)(Tensor(inputs["x"])), Tensor(inputs["g"]))
    out.value("weight", _grad(shared.weight, "the shared weight's grad"))
    out.value("bias", _grad(shared.bias, "the shared bias's grad"))
    return out


def layers_hidden_deck_mlp(inputs: Arrays) -> Outputs:
    """The deck's 784-256-10 MLP with Dropout(0.2): in training, layer by layer so that the mask is seen (raw
    outputs, judged by the pack); in evaluation, end to end through Sequential (compared with the reference)."""
    _start()
    out = Outputs()
    model = Sequential(Linear(784, 256), ReLU(), Dropout(0.2), Linear(256, 10))
    _mlp_params(model, inputs)
    x, targets = Tensor(inputs["x"]), inputs["targets"]
    hidden = model[1](model[0](x))
    dropped = model[2](hidden)
    _backward(CrossEntropyLoss()(model[3](dropped), targets))
    out.raw("hidden", arr(hidden, "ReLU's output"))
    out.raw("dropped", arr(dropped, "Dropout's output"))
    for k, p in enumerate(model.parameters()):
        out.raw(f"train_p{k}", _grad(p, f"parameter {k}'s grad"))
    model.zero_grad()
    model.eval()
    loss = CrossEntropyLoss()(model(x), targets)
    _backward(loss)
    out.value("eval_loss", arr(loss, "the loss in eval mode"))
    for k, p in enumerate(model.parameters()):
        out.value(f"eval_p{k}", _grad(p, f"parameter {k}'s grad in eval mode"))
    return out


_PARAMS = ("weight", "bias")
LABELS: dict[str, dict[str, str]] = {
    "nograd_context": {
        key(FLAG, "default_on"): "recording should be on by default",
        key(FLAG, "inside_off"): "inside no_grad() recording should be off",
        key(FLAG, "nested_off"): "a nested no_grad() keeps recording off",
        key(FLAG, "after_inner_off"): "leaving an inner no_grad() must not switch recording back on",
        key(FLAG, "after_on"): "after no_grad() recording should be on again",
        key(ERROR, "block_error"): "no_grad() must not swallow the KeyError raised in its block",
        key(FLAG, "restored_after_error"): "no_grad() should restore recording even when its block raises",
    },
    "nograd_hidden_inference": {
        **{
            key(FLAG, f"{n}_unrecorded"): f"under no_grad() {what} should record nothing"
            for n, what in (
                ("arithmetic", "+ - * / and sum"),
                ("matmul", "@ and mean"),
                ("shape", "reshape and transpose"),
                ("activations", "the activations"),
                ("loss", "the losses"),
                ("layers", "Linear and Dropout"),
                ("after_nested", "an operation after a nested no_grad()"),
            )
        },  # fmt: skip
        "arithmetic": "(x * 2 + 1 - x / 3).sum(axis=0) under no_grad()",
        "matmul": "(x @ x.T).mean() under no_grad()",
        "shape": "x.reshape(20).transpose() under no_grad()",
        "activations": "Softmax(Tanh(Sigmoid(ReLU(x)))) under no_grad()",
        "loss": "MSELoss + CrossEntropyLoss under no_grad()",
        key(FLAG, "resumes"): "after no_grad() operations and Linear should record a graph again",
    },
    "ops_unbroadcast": {
        **{f"to_{k}": f"unbroadcast of a (4, 3, 5) gradient to {s}" for k, s in enumerate(UNBROADCAST_SHAPES)},
        "middle": "unbroadcast of a (2, 1, 3) gradient to (1, 3)",
    },
    "ops_elementwise_rules": {
        **{f"{r}_{s}": f"OpGrads.{r} on (3, 4) arrays: gradient for {s}" for r in ELEMENTWISE for s in "ab"},
        **{f"{r}_wide_{s}": f"OpGrads.{r} of (2, 3, 4) and (4,): gradient for {s}" for r in ELEMENTWISE for s in "ab"},
        "mul_number_a": "OpGrads.mul of a (3, 4) array and 3.0: gradient for the array",
        "div_number_a": "OpGrads.div of a (3, 4) array by 4.0: gradient for the array",
    },
    "ops_matmul_rule": {
        f"{side}{k}": f"OpGrads.matmul of {sa} @ {sb}: gradient for {side} (summed to its shape)"
        for k, (sa, sb) in enumerate(MATMUL_SHAPES)
        for side in "ab"
    },
    "ops_reduce_reshape_rules": {
        **{
            f"{n}_{k}_{kd}": f"OpGrads.{n} of a (3, 4, 5) array with axis={axis}, keepdims={bool(kd)}"
            for n in ("sum", "mean")
            for k, axis in enumerate(REDUCE_AXES)
            for kd in (0, 1)
        },
        "reshape": "OpGrads.reshape of (3, 4, 5) into (12, 5)",
        "transpose": "OpGrads.transpose of the last two axes of (3, 4, 5)",
        "transpose02": "OpGrads.transpose(0, 2) of (3, 4, 5)",
        "transpose1d": "OpGrads.transpose of a 1-D array (passes the gradient through)",
    },
    "backward_chain_rule": {
        key(FLAG, "records"): "a result computed from Tensors that require grad should have a grad_fn",
        key(FLAG, "no_grad_before"): "x.grad should be None before any backward pass",
        **{f"d{n}": f"dy/d{n} for y = (x * w + b)^2 at x = 2, w = -3, b = 1" for n in "xwb"},
        key(FLAG, "intermediate_no_grad"): "only leaves keep .grad; intermediate results pass their gradient on",
        "poly_a": "gradient of mean(3 (a b - b / a) + 2 / a) with respect to a",
        "poly_b": "gradient of mean(3 (a b - b / a) + 2 / a) with respect to b",
        "matmul_m": "gradient of sum(v @ m) + 2 sum(m.T.reshape(12)) with respect to m",
        "matmul_v": "gradient of sum(v @ m) with respect to v",
        "reshaped": "gradient of mean(t.transpose(0, 2).reshape(4, 6) @ ones) with respect to t",
    },
    "backward_broadcasting": {
        **{
            f"{n}{k}_{s}": f"{sa} {sym} {sb}: gradient for {s}"
            for k, (sa, sb) in enumerate(BROADCAST_PAIRS)
            for n, sym in (("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"))
            for s in "ab"
        },
        "numbers": "gradient of 2x + 1 - x/4 + 3/x - ones * x",
        "scalar_s": "gradient of sum(m * s) for a 0-d s",
        "scalar_m": "gradient of sum(m * s) for m",
    },
    "backward_accumulate_order_depth": {
        **{f"step{k}": f"w.grad after {k + 1} backward passes of sum(w * w)" for k in range(3)},
        "after_reset": "w.grad after w.grad = None and one backward pass of sum(w * 5)",
        "diamond": "gradient of (2x)^2 + 4 (2x) + x, where 2x feeds three operations",
        key(FLAG, "each_once"): "graph_order should list every Tensor of the graph once",
        key(FLAG, "last"): "graph_order should end with the Tensor it was called on",
        key(FLAG, "inputs_first"): "graph_order should list every Tensor after all of its inputs",
        key(FLAG, "deep"): "the gradient through 2,000 multiplications by 1.001 should be 1.001**2000 = 7.37",
        "shared": "gradient of (a + 2a) (2a (a + 2a)) + 2a at a = 1, where 2a and a + 2a feed several operations",
        "leaf": "backward(gradient) called on a leaf stores that gradient",
    },
    "backward_errors_and_freeing": {
        key(ERROR, "nonscalar"): "backward() without a gradient on a (2, 3) Tensor",
        key(FLAG, "nonscalar_shape"): "the error of backward() on a (2, 3) Tensor should name the shape (2, 3)",
        "given": "backward(gradient) of 3x",
        key(ERROR, "no_requires_grad"): "backward() on a Tensor that does not require grad",
        "retained": "x.grad after two backward passes, the first with retain_graph=True",
        key(ERROR, "freed"): "a third backward() through a freed graph",
        key(FLAG, "freed_names_retain_graph"): "the error for a freed graph should mention retain_graph",
        key(FLAG, "detached"): "detach() should give a leaf that does not require grad",
        "detached": "the values of (x * 2).detach()",
    },
    "backward_hidden_accumulate_zero": {
        **{
            f"pass{s}_{n}": f"{n}.grad of sum(w * x + v * v * x) after {s + 1} backward passes (the sum of their "
            "gradients)"
            for s in range(3)
            for n in "wv"
        },
        key(FLAG, "zeroed"): "zero_grad() should set every parameter's grad to None",
        **{f"fresh_{n}": f"{n}.grad after zero_grad() and one backward pass" for n in "wv"},
    },
    "backward_hidden_nonscalar_error": {
        **{
            key(ERROR, f"shape{k}"): f"backward() without a gradient on a {s} Tensor"
            for k, s in enumerate(NONSCALAR_SHAPES)
        },
        **{
            key(FLAG, f"shape{k}_shape"): f"the error should name the shape {s}" for k, s in enumerate(NONSCALAR_SHAPES)
        },
        "single0": "backward() without a gradient on a (1, 1) Tensor (a single number)",
        "single1": "backward() without a gradient on a 0-d Tensor",
    },  # fmt: skip
    "activation_grads": {
        **{key(FLAG, f"{n}_records"): f"{n} of a Tensor that requires grad should record a node" for n in ACTIVATIONS},
        **{f"{n}_out": f"{n} forward values of a (4, 5) input" for n in ACTIVATIONS},
        **{f"{n}_grad": f"{n}: gradient for a (4, 5) input" for n in ACTIVATIONS},
        "softmax3d_grad": "Softmax(dim=1) of a (2, 3, 4) input: gradient for x",
        key(FLAG, "plain_input_records_nothing"): "an input without requires_grad should record nothing",
        "sigmoid_extreme": "Sigmoid's gradient at -1000, 0 and 1000 (should be 0, 0.25, 0 without overflow)",
    },
    "loss_grads": {
        "mse": "MSELoss gradient for a (4, 3) prediction",
        "ce": "CrossEntropyLoss gradient for (5, 4) logits: (softmax(z) - onehot) / N",
        "ce_tensor": "CrossEntropyLoss gradient for (5, 4) logits with the targets as a Tensor",
        "bce": "BinaryCrossEntropyLoss gradient for 6 probabilities inside the clipping range",
    },
    "loss_hidden_cross_entropy_huge_logits": {
        "huge": "CrossEntropyLoss gradient for (6, 3) logits of 0 and +-1e4",
        "mixed": "CrossEntropyLoss gradient for (32, 10) logits scaled by 1, 100 or 1e4 per row",
    },
    "layers_linear_grads": {
        key(FLAG, "requires_grad"): "Linear's weight and bias should require grad",
        **{f"y{k}": f"Linear(4, 3) forward of a {s} input" for k, s in enumerate(LINEAR_SHAPES)},
        **{f"x{k}": f"Linear(4, 3) of a {s} input: gradient for x" for k, s in enumerate(LINEAR_SHAPES)},
        **{f"w{k}": f"Linear(4, 3) of a {s} input: gradient for the weight" for k, s in enumerate(LINEAR_SHAPES)},
        **{f"b{k}": f"Linear(4, 3) of a {s} input: gradient for the bias" for k, s in enumerate(LINEAR_SHAPES)},
        "no_bias_w": "Linear(4, 3, bias=False) of a (5, 4) input: gradient for the weight",
        key(FLAG, "zeroed"): "zero_grad() should set the weight's and the bias's grad to None",
    },
    "layers_dropout_mask": {"eval": "in eval mode Dropout passes the upstream gradient (2 everywhere) unchanged"},
    "layers_mlp_end_to_end": {
        "loss": "the loss of a Linear-Tanh-Linear-Sigmoid-Linear MLP",
        **{f"p{k}": f"gradient of the {_PARAMS[k % 2]} of Linear {k // 2 + 1}" for k in range(6)},
    },
    "layers_hidden_shared_parameter": {
        "weight": "gradient of the weight of a Linear applied twice in a row (the sum of both uses)",
        "bias": "gradient of the bias of a Linear used twice (the sum of both uses)",
    },
    "layers_hidden_deck_mlp": {
        "eval_loss": "the deck MLP's loss in eval mode",
        **{f"eval_p{k}": f"eval mode: gradient of the {_PARAMS[k % 2]} of Linear {k // 2 + 1}" for k in range(4)},
    },
}
