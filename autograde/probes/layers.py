"""Probes for module 03 (Linear, Dropout, Sequential). Runs inside the sandbox: imports only numpy, the stdlib and
the student's package. Outputs are recorded by kind as in probes/tensor.py (probes/protocol.py).

Randomness: the notebook tells students to draw from NumPy's global random state, so probes seed it where the
notebook cell did, but no judge depends on the stream: random weights are returned (raw outputs) and the judge
recomputes the expected outputs from them, and dropout masks are judged statistically.
"""

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor

from .common import Arrays, Outputs, arr
from .protocol import ERROR, FLAG, SHAPE, TEXT, key


def _seed(inputs: Arrays) -> None:
    np.random.seed(int(inputs["seed"]))


def _set(layer: Linear, weight: np.ndarray, bias: np.ndarray | None = None) -> Linear:
    """Give a Linear known parameters (replacing the arrays, as a student would after training)."""
    layer.weight.data = np.array(weight, dtype=np.float32)
    if bias is not None:
        layer.bias.data = np.array(bias, dtype=np.float32)
    return layer


def _positions(params, expected: list) -> np.ndarray:
    """For each returned parameter, its position in `expected` by identity (-1: not one of them)."""
    return np.array([next((k for k, e in enumerate(expected) if p is e), -1) for p in params], dtype=np.int64)


def _modes(modules: list) -> np.ndarray:
    return np.array([m.training is True for m in modules], dtype=np.int8)


class _AddOne(Layer):
    def forward(self, x: Tensor) -> Tensor:
        return x + 1.0


class _Double(Layer):
    def forward(self, x: Tensor) -> Tensor:
        return x * 2.0


INPUT_SHAPES = ((4, 5), (1, 5), (5,))  # inputs of Linear(5, 3) in linear_shapes_and_dtype (fixture x0, x1, x2)
BAD_SHAPES = ((2, 4), (6,), (3, 2, 3))  # fixture bad_shape_0..2
GOOD_P = (0, 0.0, 0.25, 1.0)
BAD_P = (-0.1, 1.5, 2)
EVERYTHING = "[model, model[0], model[1], inner, inner[0], inner[1], model[3]]"
NESTED = "[model, middle, block, block's Linear, block's Dropout, ReLU, the Dropout built in eval mode, Sequential()]"

LABELS: dict[str, dict[str, str]] = {
    "linear_shapes_and_dtype": {
        key(SHAPE, "weight"): "Linear(5, 3).weight shape (in_features, out_features)",
        key(TEXT, "dtype_weight"): "Linear(5, 3).weight dtype",
        "bias": "Linear(5, 3).bias (float32 zeros at the start)",
        "features": "(layer.in_features, layer.out_features)",
        key(FLAG, "no_bias_none"): "with bias=False, self.bias should be None",
        **{key(ERROR, f"y_{k}"): f"Linear(5, 3) on an input of shape {s}" for k, s in enumerate(INPUT_SHAPES)},
        **{key(SHAPE, f"y_{k}"): f"output shape for an input of shape {s}" for k, s in enumerate(INPUT_SHAPES)},
        **{key(TEXT, f"dtype_y_{k}"): f"output dtype for an input of shape {s}" for k, s in enumerate(INPUT_SHAPES)},
        **{key(ERROR, f"bad_{k}"): f"Linear(5, 3) on an input of shape {s}" for k, s in enumerate(BAD_SHAPES)},
    },
    "linear_init_statistics": {
        key(SHAPE, "weight"): "Linear(512, 128).weight shape",
        key(TEXT, "dtype_weight"): "Linear(512, 128).weight dtype",
        "bias": "Linear(512, 128).bias (float32 zeros at the start)",
    },
    "linear_parameters": {
        key(FLAG, "list"): "parameters() should return a list",
        key(FLAG, "weight_bias"): "parameters() of Linear(4, 3) should be [self.weight, self.bias]: the Tensors "
        "themselves, weight first",
        "n_values": "total number of values in Linear(4, 3).parameters()",
        key(FLAG, "no_bias"): "with bias=False, parameters() should be [self.weight]",
    },
    "linear_hidden_reference_outputs": {
        "y": "Linear(6, 4) with given weight and bias on a (5, 6) batch",
        "y_1d": "Linear(6, 4) with given weight and bias on one (6,) sample",
        "y_3d": "Linear(6, 4) with given weight and bias on a (2, 3, 6) input",
    },
    "linear_hidden_no_bias": {
        key(FLAG, "bias_none"): "Linear(6, 4, bias=False).bias should be None",
        key(FLAG, "params"): "Linear(6, 4, bias=False).parameters() should be [self.weight]",
        "y": "Linear(6, 4, bias=False) with a given weight on a (5, 6) batch",
        "y_1d": "Linear(6, 4, bias=False) with a given weight on one (6,) sample",
    },
    "dropout_invalid_p": {
        "p_default": "Dropout().p (the default drop probability)",
        "p_good": f"Dropout(p).p for p in {list(GOOD_P)}",
        **{key(ERROR, f"bad_{k}"): f"Dropout({p}) (p must be between 0 and 1)" for k, p in enumerate(BAD_P)},
    },
    "dropout_modes": {
        key(FLAG, "new_training"): "a new Dropout layer should be in training mode",
        "eval_identity": "Dropout(0.5) in eval mode (must return the input unchanged)",
        "train_false": "Dropout(0.5)(x, training=False) in training mode (must return the input unchanged)",
        key(FLAG, "mode_kept"): "the training= argument applies to one call; it must not change the layer's mode",
        "eval_again": "Dropout(0.5) in eval mode after a training=True call (must be the identity again)",
    },
    "dropout_edge_p": {
        "p0": "Dropout(0.0) in training mode (nothing dropped, nothing rescaled)",
        "p0_forced": "Dropout(0)(x, training=True)",
        "p1": "Dropout(1.0) in training mode (every element 0)",
        "p1_int": "Dropout(1) in training mode (every element 0)",
    },
    "sequential_forward_order": {
        "add_then_double": "Sequential(AddOne(), Double())(x) (must be Double(AddOne(x)))",
        "double_then_add": "Sequential(Double(), AddOne())(x) (must be AddOne(Double(x)))",
        "empty": "Sequential()(x) (an empty Sequential is the identity)",
        "four": "Sequential(AddOne(), Double(), AddOne(), Double())(x)",
    },
    "sequential_parameters": {
        key(FLAG, "list"): "parameters() should return a list",
        "order": "Sequential(first, ReLU(), second).parameters() as positions in "
        "[first.weight, first.bias, second.weight, second.bias] (-1: another object)",
        "tied": "Sequential(shared, ReLU(), shared).parameters() as positions in [shared.weight, shared.bias]",
        "nested": "Sequential(Linear(3, 2), Sequential(Linear(2, 3, bias=False), ReLU())).parameters() as positions "
        "in [outer weight, outer bias, inner weight]",
        "no_weights": "Sequential(ReLU(), Dropout(0.5)).parameters()",
        "equal_values": "Sequential(a, b).parameters() for two Linear(4, 4) whose biases hold equal values, as "
        "positions in [a.weight, a.bias, b.weight, b.bias] (compare Tensors by identity, not value)",
        "deep": "parameters() of a shared layer reused at several nesting levels, as positions in "
        "[shared.weight, shared.bias, last.weight, last.bias]",
    },
    "sequential_train_eval": {
        key(FLAG, "eval_returns_self"): "model.eval() should return the model itself",
        "after_eval": f"training flags (1 = training) after model.eval() of {EVERYTHING}",
        key(FLAG, "train_returns_self"): "model.train() should return the model itself",
        "after_train": f"training flags after model.train() of {EVERYTHING}",
        "after_train_false": f"training flags after model.train(False) of {EVERYTHING}",
        "deep_after_eval": "training flags after eval() of Sequential(Sequential(Sequential(Dropout(0.9)), ReLU())), "
        "outermost first",
        "deep_eval_output": "Sequential(Sequential(Sequential(Dropout(0.9)), ReLU())) in eval mode on positive inputs",
        "deep_after_train": "training flags after train() of the same three-level model",
    },
    "sequential_container": {
        "length": "len(Sequential(a, b, c))",
        key(FLAG, "index"): "model[i] should return the i-th layer itself (model[0], model[1], model[-1])",
        key(FLAG, "iter"): "iterating over a Sequential should yield its layers in order",
        key(FLAG, "slice"): "model[:2] should be a new Sequential holding the same first two layers",
    },
    "sequential_mlp_784_256_10": {
        "n_params": "number of parameter Tensors of the 784-256-10 model",
        **{key(SHAPE, f"p{k}"): f"shape of parameter {k}" for k in range(4)},
        "n_values": "total number of parameters",
        key(SHAPE, "y"): "output shape for a (32, 784) batch",
        key(TEXT, "dtype_y"): "output dtype",
    },
    "sequential_hidden_deck_mlp_reference": {
        "y": "the deck's MLP with given weights, in eval mode, on a (32, 784) batch",
        "y_again": "the same model called a second time in eval mode",
    },
    "sequential_hidden_nested_modes": {
        "after_train": f"training flags after model.train() of {NESTED}",
        "after_train_false": f"training flags after model.train(False) of {NESTED}",
        "after_block_train": f"training flags after block.train() alone (only block and its layers change) of {NESTED}",
        key(FLAG, "train_returns_self"): "model.train() should return the model itself",
    },
}


def linear_shapes_and_dtype(inputs: Arrays) -> Outputs:
    """Linear(5, 3): parameter shapes and dtypes, zero bias, bias=False, output shapes, wrong-width errors."""
    _seed(inputs)
    layer, out = Linear(5, 3), Outputs()
    weight, bias = arr(layer.weight, "self.weight"), arr(layer.bias, "self.bias")
    out.shape("weight", weight.shape)
    out.text("dtype_weight", weight.dtype.name)
    out.value("bias", bias)
    out.value("features", np.array([layer.in_features, layer.out_features], dtype=np.int64))
    out.flag("no_bias_none", Linear(5, 3, bias=False).bias is None)
    for k in range(3):
        try:  # an error here is reported with the parameters' shapes above, not instead of them
            y = arr(layer(Tensor(inputs[f"x{k}"])), f"Linear(5, 3) on an input of shape {inputs[f'x{k}'].shape}")
        except Exception as e:
            out.error(f"y_{k}", f"{type(e).__name__}: {e}")
            continue
        out.error(f"y_{k}", "")
        out.shape(f"y_{k}", y.shape)
        out.text(f"dtype_y_{k}", y.dtype.name)
    for k in range(3):
        bad = tuple(int(n) for n in inputs[f"bad_shape_{k}"])
        message = out.raises(f"bad_{k}", lambda bad=bad: layer(Tensor(np.ones(bad))), message=False)
        out.raw(f"bad_{k}_message", message)  # judged by a rule: it must name both shapes, in the student's words
    return out


def linear_forward_matches_numpy(inputs: Arrays) -> Outputs:
    """forward on batches, one sample, 1-D, integer and 3-D inputs, with bias, without, and on a wide layer.
    Returns the layer's own random weights; the judge recomputes x @ W + b from them."""
    _seed(inputs)
    layer, out = Linear(4, 3), Outputs()
    layer.bias.data[...] = inputs["b"]
    out.raw("weight", arr(layer.weight, "self.weight"))
    x = inputs["x"]
    for name, xin in (("y", x), ("y_one", x[:1]), ("y_1d", x[0]), ("y_3d", inputs["x3"])):
        out.raw(name, arr(layer(Tensor(xin)), f"Linear(4, 3) on an input of shape {xin.shape}"))
    out.raw("y_int", arr(layer(Tensor(inputs["x_int"], dtype=np.int64)), "Linear(4, 3) on an int64 input"))
    no_bias = Linear(4, 3, bias=False)
    out.raw("weight_no_bias", arr(no_bias.weight, "self.weight"))
    out.raw("y_no_bias", arr(no_bias(Tensor(x)), "Linear(4, 3, bias=False) on a (6, 4) input"))
    np.random.seed(int(inputs["seed_wide"]))
    wide = Linear(7, 2)
    wide.bias.data[...] = inputs["b_wide"]
    out.raw("weight_wide", arr(wide.weight, "self.weight"))
    out.raw("y_wide", arr(wide(Tensor(inputs["x_wide"])), "Linear(7, 2) on a (3, 7) input"))
    out.raw("weight_after", arr(layer.weight, "self.weight"))
    out.raw("bias_after", arr(layer.bias, "self.bias"))
    return out


def linear_init_statistics(inputs: Arrays) -> Outputs:
    """Weights of fresh layers (judged statistically), their shape and dtype, and the zero bias."""
    _seed(inputs)
    layer, out = Linear(512, 128), Outputs()
    weight = arr(layer.weight, "self.weight")
    out.shape("weight", weight.shape)
    out.text("dtype_weight", weight.dtype.name)
    out.value("bias", arr(layer.bias, "self.bias"))
    out.raw("weight", weight)
    out.raw("weight_narrow", arr(Linear(64, 1000).weight, "self.weight"))
    out.raw("weight_8a", arr(Linear(8, 8).weight, "self.weight"))
    out.raw("weight_8b", arr(Linear(8, 8).weight, "self.weight"))
    return out


def linear_parameters(inputs: Arrays) -> Outputs:
    """parameters() returns the layer's own Tensors as a list: [weight, bias], or [weight] without bias."""
    layer, out = Linear(4, 3), Outputs()
    params = layer.parameters()
    out.flag("list", isinstance(params, list))
    params = list(params)
    no_bias = Linear(4, 3, bias=False)
    nb = list(no_bias.parameters())
    out.flag("weight_bias", len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias)
    out.value("n_values", np.array(sum(int(np.size(p.data)) for p in params), dtype=np.int64))
    out.flag("no_bias", len(nb) == 1 and nb[0] is no_bias.weight)
    return out


def linear_hidden_reference_outputs(inputs: Arrays) -> Outputs:
    """Linear(6, 4) with the fixture's weight and non-zero bias on 2-D, 1-D and 3-D inputs."""
    labels, out = LABELS["linear_hidden_reference_outputs"], Outputs()
    layer = _set(Linear(6, 4), inputs["weight"], inputs["bias"])
    for name in ("y", "y_1d", "y_3d"):
        out.value(name, arr(layer(Tensor(inputs[f"x{name[1:]}"])), labels[name]))
    return out


def linear_hidden_no_bias(inputs: Arrays) -> Outputs:
    """Linear(6, 4, bias=False): no bias, one parameter, forward = x @ weight with the fixture's weight."""
    labels, out = LABELS["linear_hidden_no_bias"], Outputs()
    layer = Linear(6, 4, bias=False)
    params = list(layer.parameters())
    out.flag("bias_none", layer.bias is None)
    out.flag("params", len(params) == 1 and params[0] is layer.weight)
    _set(layer, inputs["weight"])
    for name in ("y", "y_1d"):
        out.value(name, arr(layer(Tensor(inputs[f"x{name[1:]}"])), labels[name]))
    return out


def dropout_invalid_p(inputs: Arrays) -> Outputs:
    """The default p is 0.5, probabilities are accepted and stored, anything outside [0, 1] raises ValueError."""
    out = Outputs()
    out.value("p_default", np.array(float(Dropout().p)))
    out.value("p_good", np.array([float(Dropout(p).p) for p in GOOD_P]))
    for k, p in enumerate(BAD_P):
        out.raises(f"bad_{k}", lambda p=p: Dropout(p), message=False)
    return out


def dropout_modes(inputs: Arrays) -> Outputs:
    """Eval mode and training=False are the identity; training=True drops even in eval mode, keeping the mode."""
    x = inputs["x"]
    drop, out = Dropout(0.5), Outputs()
    out.flag("new_training", drop.training is True)
    drop.eval()
    out.value("eval_identity", arr(drop(Tensor(x.copy())), "Dropout in eval mode"))
    drop.train()
    out.value("train_false", arr(drop(Tensor(x.copy()), training=False), "Dropout(x, training=False)"))
    drop.eval()
    out.raw("override", arr(drop(Tensor(x.copy()), training=True), "Dropout(x, training=True)"))
    out.flag("mode_kept", drop.training is False)
    out.value("eval_again", arr(drop(Tensor(x.copy())), "Dropout in eval mode"))
    return out


def dropout_edge_p(inputs: Arrays) -> Outputs:
    """p = 0 keeps everything unscaled, p = 1 zeroes everything without NaN (also for the int p = 1)."""
    x, labels, out = inputs["x"], LABELS["dropout_edge_p"], Outputs()
    cases = {
        "p0": lambda: Dropout(0.0)(Tensor(x.copy())),
        "p0_forced": lambda: Dropout(0)(Tensor(x.copy()), training=True),
        "p1": lambda: Dropout(1.0)(Tensor(x.copy())),
        "p1_int": lambda: Dropout(1)(Tensor(x.copy())),
    }
    with np.errstate(all="ignore"):
        for name, fn in cases.items():
            out.value(name, arr(fn(), labels[name]))
    return out


def dropout_training_values(inputs: Arrays) -> Outputs:
    """Dropout(p) in training mode on 100,000 non-zero inputs: two calls for p = 0.5 and 0.2, one for 0.8 and
    one for 0.05 on a 3-D input. The judge checks values, dropped share and fresh masks."""
    x, out = inputs["x"], Outputs()
    for k, p in enumerate(inputs["p"]):
        xk = x.reshape(tuple(inputs["shape_3d"])) if k == 3 else x
        for call in ("a", "b") if k < 2 else ("a",):
            out.raw(f"y{k}{call}", arr(Dropout(float(p))(Tensor(xk.copy())), f"Dropout({float(p)})"))
    return out


def dropout_mean_preserved(inputs: Arrays) -> Outputs:
    """Dropout(p) on 50,000 copies of a 4-vector, for each p; the judge checks every column's mean."""
    x, out = np.tile(inputs["values"], (int(inputs["trials"]), 1)), Outputs()
    for k, p in enumerate(inputs["p"]):
        out.raw(f"y{k}", arr(Dropout(float(p))(Tensor(x.copy())), f"Dropout({p})"))
    return out


def dropout_hidden_other_p(inputs: Arrays) -> Outputs:
    """Dropout for p = 0.1, 0.25 (given as np.float32), 0.75 and 0.9 in training mode."""
    x, out = inputs["x"], Outputs()
    for k, p in enumerate(inputs["p"]):
        prob = np.float32(p) if k == 1 else float(p)
        out.raw(f"y{k}", arr(Dropout(prob)(Tensor(x.copy())), f"Dropout({p})"))
    return out


def _raw_parameters(out: Outputs, named: dict[str, Tensor]) -> None:
    for name, t in named.items():
        out.raw(name, arr(t, "a Linear parameter"))


def sequential_forward_order(inputs: Arrays) -> Outputs:
    """Layers apply first to last; a Linear-ReLU-Linear network (weights returned, judged against NumPy)."""
    x, out = inputs["x_small"], Outputs()
    out.value("add_then_double", arr(Sequential(_AddOne(), _Double())(Tensor(x)), "Sequential(AddOne(), Double())(x)"))
    out.value("double_then_add", arr(Sequential(_Double(), _AddOne())(Tensor(x)), "Sequential(Double(), AddOne())(x)"))
    out.value("empty", arr(Sequential()(Tensor(x)), "Sequential()(x)"))
    out.value("four", arr(Sequential(_AddOne(), _Double(), _AddOne(), _Double())(Tensor(x)), "Sequential(...)(x)"))
    _seed(inputs)
    first, second = Linear(3, 5), Linear(5, 2)
    first.bias.data[...] = inputs["b1"]
    second.bias.data[...] = inputs["b2"]
    model = Sequential(first, ReLU(), second)
    _raw_parameters(out, {"w1": first.weight, "b1": first.bias, "w2": second.weight, "b2": second.bias})
    out.raw("y", arr(model(Tensor(inputs["x"])), "Sequential(Linear(3, 5), ReLU(), Linear(5, 2))"))
    return out


def sequential_parameters(inputs: Arrays) -> Outputs:
    """parameters() in layer order, each Tensor once (shared layers, nested Sequentials), [] without weights."""
    first, second, out = Linear(3, 4), Linear(4, 2), Outputs()
    params = Sequential(first, ReLU(), second).parameters()
    out.flag("list", isinstance(params, list))
    out.value("order", _positions(params, [first.weight, first.bias, second.weight, second.bias]))
    shared = Linear(4, 4)
    out.value("tied", _positions(Sequential(shared, ReLU(), shared).parameters(), [shared.weight, shared.bias]))
    outer_linear, inner_linear = Linear(3, 2), Linear(2, 3, bias=False)
    outer = Sequential(outer_linear, Sequential(inner_linear, ReLU()))
    out.value("nested", _positions(outer.parameters(), [outer_linear.weight, outer_linear.bias, inner_linear.weight]))
    out.value("no_weights", _positions(Sequential(ReLU(), Dropout(0.5)).parameters(), []))
    twin_a, twin_b = Linear(4, 4), Linear(4, 4)  # equal zero biases, different Tensors
    twins = [twin_a.weight, twin_a.bias, twin_b.weight, twin_b.bias]
    out.value("equal_values", _positions(Sequential(twin_a, twin_b).parameters(), twins))
    last = Linear(4, 1)
    deep = Sequential(Sequential(shared, ReLU()), Sequential(Sequential(shared)), last)
    out.value("deep", _positions(deep.parameters(), [shared.weight, shared.bias, last.weight, last.bias]))
    return out


def _two_calls(out: Outputs, names: tuple[str, str], model, x: Tensor, what: str) -> None:
    for name in names:
        out.raw(name, arr(model(x), what))


def sequential_train_eval(inputs: Arrays) -> Outputs:
    """eval()/train()/train(False) return the model and reach nested layers; eval is deterministic, training not."""
    _seed(inputs)
    inner_linear, inner_drop, relu, last_drop = Linear(4, 4), Dropout(0.5), ReLU(), Dropout(0.3)
    first, out = Linear(8, 4), Outputs()
    inner = Sequential(inner_linear, inner_drop)
    model = Sequential(first, relu, inner, last_drop)
    everything = [model, first, relu, inner, inner_linear, inner_drop, last_drop]
    out.flag("eval_returns_self", model.eval() is model)
    out.value("after_eval", _modes(everything))
    out.flag("train_returns_self", model.train() is model)
    out.value("after_train", _modes(everything))
    model.train(False)
    out.value("after_train_false", _modes(everything))
    x = Tensor(inputs["x"])
    model.eval()
    _two_calls(out, ("eval_a", "eval_b"), model, x, "the model in eval mode")
    model.train()
    _two_calls(out, ("train_a", "train_b"), model, x, "the model in training mode")
    innermost = Dropout(0.9)
    level2 = Sequential(innermost)
    level1 = Sequential(level2, ReLU())
    deep = Sequential(level1)
    deep.eval()
    out.value("deep_after_eval", _modes([deep, level1, level2, innermost]))
    out.value("deep_eval_output", arr(deep(Tensor(inputs["x_positive"])), "the three-level model in eval mode"))
    deep.train()
    out.value("deep_after_train", _modes([deep, level1, level2, innermost]))
    return out


def sequential_container(inputs: Arrays) -> Outputs:
    """len, indexing, iteration and slicing share the layers; a slice is a working model."""
    a, b, c = Linear(2, 3), ReLU(), Linear(3, 1)
    model, out = Sequential(a, b, c), Outputs()
    head = model[:2]
    x = Tensor(inputs["x"])
    out.value("length", np.array(len(model), dtype=np.int64))
    out.flag("index", model[0] is a and model[1] is b and model[-1] is c)
    out.flag("iter", [id(layer) for layer in model] == [id(a), id(b), id(c)])
    out.flag("slice", isinstance(head, Sequential) and len(head) == 2 and head[0] is a and head[1] is b)
    out.raw("head_then_c", arr(c(head(x)), "c(model[:2](x))"))
    out.raw("model", arr(model(x), "model(x)"))
    return out


def _mlp() -> tuple[Sequential, Linear, Linear]:
    first, second = Linear(784, 256), Linear(256, 10)
    return Sequential(first, ReLU(), Dropout(0.5), second), first, second


def sequential_mlp_784_256_10(inputs: Arrays) -> Outputs:
    """The 784-256-10 classifier: 4 parameter Tensors, 203,530 values; eval deterministic (judged against its own
    weights), training mode random."""
    _seed(inputs)
    (model, first, second), out = _mlp(), Outputs()
    params = list(model.parameters())
    out.value("n_params", np.array(len(params), dtype=np.int64))
    if len(params) == 4:
        for k, p in enumerate(params):
            out.shape(f"p{k}", arr(p, f"parameter {k}").shape)
    out.value("n_values", np.array(sum(int(np.size(p.data)) for p in params), dtype=np.int64))
    x = Tensor(inputs["pixels"].astype(np.float32) / np.float32(255))
    model.eval()
    y = arr(model(x), "the model's output in eval mode")
    out.shape("y", y.shape)
    out.text("dtype_y", y.dtype.name)
    out.raw("y1", y)
    out.raw("y2", arr(model(x), "the model's output in eval mode"))
    _raw_parameters(out, {"w1": first.weight, "b1": first.bias, "w2": second.weight, "b2": second.bias})
    model.train()
    _two_calls(out, ("t1", "t2"), model, x, "the model's output in training mode")
    return out


def sequential_hidden_deck_mlp_reference(inputs: Arrays) -> Outputs:
    """The deck's MLP with the fixture's weights (int8 codes times a scale) in eval mode on a batch of images."""
    (model, first, second), out = _mlp(), Outputs()
    _set(first, inputs["w1_codes"].astype(np.float32) * inputs["w1_scale"], inputs["b1"])
    _set(second, inputs["w2_codes"].astype(np.float32) * inputs["w2_scale"], inputs["b2"])
    model.eval()
    x = Tensor(inputs["pixels"].astype(np.float32) / np.float32(255))
    out.value("y", arr(model(x), "the MLP's output"))
    out.value("y_again", arr(model(x), "the MLP's output"))
    return out


def sequential_hidden_nested_modes(inputs: Arrays) -> Outputs:
    """train()/train(False) reach every nested layer, also one built in eval mode; a nested block's own train()
    changes only that block; eval output equals the layers applied by hand, training output is random."""
    _seed(inputs)
    linear, block_drop, relu, eval_drop, empty = Linear(6, 6), Dropout(0.5), ReLU(), Dropout(0.5).eval(), Sequential()
    block = Sequential(linear, block_drop)
    middle = Sequential(block, relu)
    model, out = Sequential(middle, eval_drop, empty), Outputs()
    modules = [model, middle, block, linear, block_drop, relu, eval_drop, empty]
    out.flag("train_returns_self", model.train() is model)
    out.value("after_train", _modes(modules))
    x = Tensor(inputs["x"])
    _two_calls(out, ("train_a", "train_b"), model, x, "the model in training mode")
    model.train(False)
    out.value("after_train_false", _modes(modules))
    out.raw("eval", arr(model(x), "the model in eval mode"))
    out.raw("by_hand", arr(relu(linear(x)), "ReLU()(linear(x))"))
    block.train()
    out.value("after_block_train", _modes(modules))
    return out
