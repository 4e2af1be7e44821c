"""Probes for module 03 (Linear, Dropout, Sequential). Runs inside the sandbox: imports only numpy, the stdlib and
the student's package. Output key conventions as in probes/tensor.py: `ok_*` flags, `err_*` exception type names
("" = none), `txt_*` texts, `shape_*` shapes, `raw_*` rule-judged arrays, anything else compared with the reference.

Randomness: the notebook tells students to draw from NumPy's global random state, so probes seed it where the
notebook cell did, but no judge depends on the stream: random weights are returned (`raw_*`) and the judge recomputes
the expected outputs from them, and dropout masks are judged statistically.
"""

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor

from .common import Arrays, arr, flag, raises, shape, text


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
        "shape_weight": "Linear(5, 3).weight shape (in_features, out_features)",
        "txt_dtype_weight": "Linear(5, 3).weight dtype",
        "bias": "Linear(5, 3).bias (float32 zeros at the start)",
        "features": "(layer.in_features, layer.out_features)",
        "ok_no_bias_none": "with bias=False, self.bias should be None",
        **{f"err_y_{k}": f"Linear(5, 3) on an input of shape {s}" for k, s in enumerate(INPUT_SHAPES)},
        **{f"shape_y_{k}": f"output shape for an input of shape {s}" for k, s in enumerate(INPUT_SHAPES)},
        **{f"txt_dtype_y_{k}": f"output dtype for an input of shape {s}" for k, s in enumerate(INPUT_SHAPES)},
        **{f"err_bad_{k}": f"Linear(5, 3) on an input of shape {s}" for k, s in enumerate(BAD_SHAPES)},
    },
    "linear_init_statistics": {
        "shape_weight": "Linear(512, 128).weight shape",
        "txt_dtype_weight": "Linear(512, 128).weight dtype",
        "bias": "Linear(512, 128).bias (float32 zeros at the start)",
    },
    "linear_parameters": {
        "ok_list": "parameters() should return a list",
        "ok_weight_bias": "parameters() of Linear(4, 3) should be [self.weight, self.bias]: the Tensors themselves, "
        "weight first",
        "n_values": "total number of values in Linear(4, 3).parameters()",
        "ok_no_bias": "with bias=False, parameters() should be [self.weight]",
    },
    "linear_hidden_reference_outputs": {
        "y": "Linear(6, 4) with given weight and bias on a (5, 6) batch",
        "y_1d": "Linear(6, 4) with given weight and bias on one (6,) sample",
        "y_3d": "Linear(6, 4) with given weight and bias on a (2, 3, 6) input",
    },
    "linear_hidden_no_bias": {
        "ok_bias_none": "Linear(6, 4, bias=False).bias should be None",
        "ok_params": "Linear(6, 4, bias=False).parameters() should be [self.weight]",
        "y": "Linear(6, 4, bias=False) with a given weight on a (5, 6) batch",
        "y_1d": "Linear(6, 4, bias=False) with a given weight on one (6,) sample",
    },
    "dropout_invalid_p": {
        "p_default": "Dropout().p (the default drop probability)",
        "p_good": f"Dropout(p).p for p in {list(GOOD_P)}",
        **{f"err_bad_{k}": f"Dropout({p}) (p must be between 0 and 1)" for k, p in enumerate(BAD_P)},
    },
    "dropout_modes": {
        "ok_new_training": "a new Dropout layer should be in training mode",
        "eval_identity": "Dropout(0.5) in eval mode (must return the input unchanged)",
        "train_false": "Dropout(0.5)(x, training=False) in training mode (must return the input unchanged)",
        "ok_mode_kept": "the training= argument applies to one call; it must not change the layer's mode",
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
        "ok_list": "parameters() should return a list",
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
        "ok_eval_returns_self": "model.eval() should return the model itself",
        "after_eval": f"training flags (1 = training) after model.eval() of {EVERYTHING}",
        "ok_train_returns_self": "model.train() should return the model itself",
        "after_train": f"training flags after model.train() of {EVERYTHING}",
        "after_train_false": f"training flags after model.train(False) of {EVERYTHING}",
        "deep_after_eval": "training flags after eval() of Sequential(Sequential(Sequential(Dropout(0.9)), ReLU())), "
        "outermost first",
        "deep_eval_output": "Sequential(Sequential(Sequential(Dropout(0.9)), ReLU())) in eval mode on positive inputs",
        "deep_after_train": "training flags after train() of the same three-level model",
    },
    "sequential_container": {
        "length": "len(Sequential(a, b, c))",
        "ok_index": "model[i] should return the i-th layer itself (model[0], model[1], model[-1])",
        "ok_iter": "iterating over a Sequential should yield its layers in order",
        "ok_slice": "model[:2] should be a new Sequential holding the same first two layers",
    },
    "sequential_mlp_784_256_10": {
        "n_params": "number of parameter Tensors of the 784-256-10 model",
        **{f"shape_p{k}": f"shape of parameter {k}" for k in range(4)},
        "n_values": "total number of parameters",
        "shape_y": "output shape for a (32, 784) batch",
        "txt_dtype_y": "output dtype",
    },
    "sequential_hidden_deck_mlp_reference": {
        "y": "the deck's MLP with given weights, in eval mode, on a (32, 784) batch",
        "y_again": "the same model called a second time in eval mode",
    },
    "sequential_hidden_nested_modes": {
        "after_train": f"training flags after model.train() of {NESTED}",
        "after_train_false": f"training flags after model.train(False) of {NESTED}",
        "after_block_train": f"training flags after block.train() alone (only block and its layers change) of {NESTED}",
        "ok_train_returns_self": "model.train() should return the model itself",
    },
}


def linear_shapes_and_dtype(inputs: Arrays) -> Arrays:
    """Linear(5, 3): parameter shapes and dtypes, zero bias, bias=False, output shapes, wrong-width errors."""
    _seed(inputs)
    layer = Linear(5, 3)
    weight, bias = arr(layer.weight, "self.weight"), arr(layer.bias, "self.bias")
    out = {
        "shape_weight": shape(weight),
        "txt_dtype_weight": text(weight.dtype.name),
        "bias": bias,
        "features": np.array([layer.in_features, layer.out_features], dtype=np.int64),
        "ok_no_bias_none": flag(Linear(5, 3, bias=False).bias is None),
    }
    for k in range(3):
        try:  # an error here is reported with the parameters' shapes above, not instead of them
            y = arr(layer(Tensor(inputs[f"x{k}"])), f"Linear(5, 3) on an input of shape {inputs[f'x{k}'].shape}")
        except Exception as e:
            out[f"err_y_{k}"] = text(f"{type(e).__name__}: {e}")
            continue
        out[f"err_y_{k}"] = text("")
        out[f"shape_y_{k}"], out[f"txt_dtype_y_{k}"] = shape(y), text(y.dtype.name)
    for k in range(3):
        bad = tuple(int(n) for n in inputs[f"bad_shape_{k}"])
        out[f"err_bad_{k}"], out[f"raw_msg_bad_{k}"] = raises(lambda bad=bad: layer(Tensor(np.ones(bad))))
    return out


def linear_forward_matches_numpy(inputs: Arrays) -> Arrays:
    """forward on batches, one sample, 1-D, integer and 3-D inputs, with bias, without, and on a wide layer.
    Returns the layer's own random weights; the judge recomputes x @ W + b from them."""
    _seed(inputs)
    layer = Linear(4, 3)
    layer.bias.data[...] = inputs["b"]
    out = {"raw_weight": arr(layer.weight, "self.weight")}
    x = inputs["x"]
    for key, xin in (("y", x), ("y_one", x[:1]), ("y_1d", x[0]), ("y_3d", inputs["x3"])):
        out[f"raw_{key}"] = arr(layer(Tensor(xin)), f"Linear(4, 3) on an input of shape {xin.shape}")
    out["raw_y_int"] = arr(layer(Tensor(inputs["x_int"], dtype=np.int64)), "Linear(4, 3) on an int64 input")
    no_bias = Linear(4, 3, bias=False)
    out["raw_weight_no_bias"] = arr(no_bias.weight, "self.weight")
    out["raw_y_no_bias"] = arr(no_bias(Tensor(x)), "Linear(4, 3, bias=False) on a (6, 4) input")
    np.random.seed(int(inputs["seed_wide"]))
    wide = Linear(7, 2)
    wide.bias.data[...] = inputs["b_wide"]
    out["raw_weight_wide"] = arr(wide.weight, "self.weight")
    out["raw_y_wide"] = arr(wide(Tensor(inputs["x_wide"])), "Linear(7, 2) on a (3, 7) input")
    out["raw_weight_after"] = arr(layer.weight, "self.weight")
    out["raw_bias_after"] = arr(layer.bias, "self.bias")
    return out


def linear_init_statistics(inputs: Arrays) -> Arrays:
    """Weights of fresh layers (judged statistically), their shape and dtype, and the zero bias."""
    _seed(inputs)
    layer = Linear(512, 128)
    weight = arr(layer.weight, "self.weight")
    return {
        "shape_weight": shape(weight),
        "txt_dtype_weight": text(weight.dtype.name),
        "bias": arr(layer.bias, "self.bias"),
        "raw_weight": weight,
        "raw_weight_narrow": arr(Linear(64, 1000).weight, "self.weight"),
        "raw_weight_8a": arr(Linear(8, 8).weight, "self.weight"),
        "raw_weight_8b": arr(Linear(8, 8).weight, "self.weight"),
    }


def linear_parameters(inputs: Arrays) -> Arrays:
    """parameters() returns the layer's own Tensors as a list: [weight, bias], or [weight] without bias."""
    layer = Linear(4, 3)
    params = layer.parameters()
    ok_list = isinstance(params, list)
    params = list(params)
    no_bias = Linear(4, 3, bias=False)
    nb = list(no_bias.parameters())
    return {
        "ok_list": flag(ok_list),
        "ok_weight_bias": flag(len(params) == 2 and params[0] is layer.weight and params[1] is layer.bias),
        "n_values": np.array(sum(int(np.size(p.data)) for p in params), dtype=np.int64),
        "ok_no_bias": flag(len(nb) == 1 and nb[0] is no_bias.weight),
    }


def linear_hidden_reference_outputs(inputs: Arrays) -> Arrays:
    """Linear(6, 4) with the fixture's weight and non-zero bias on 2-D, 1-D and 3-D inputs."""
    labels = LABELS["linear_hidden_reference_outputs"]
    layer = _set(Linear(6, 4), inputs["weight"], inputs["bias"])
    return {key: arr(layer(Tensor(inputs[f"x{key[1:]}"])), labels[key]) for key in ("y", "y_1d", "y_3d")}


def linear_hidden_no_bias(inputs: Arrays) -> Arrays:
    """Linear(6, 4, bias=False): no bias, one parameter, forward = x @ weight with the fixture's weight."""
    labels = LABELS["linear_hidden_no_bias"]
    layer = Linear(6, 4, bias=False)
    params = list(layer.parameters())
    out = {
        "ok_bias_none": flag(layer.bias is None),
        "ok_params": flag(len(params) == 1 and params[0] is layer.weight),
    }
    _set(layer, inputs["weight"])
    return out | {key: arr(layer(Tensor(inputs[f"x{key[1:]}"])), labels[key]) for key in ("y", "y_1d")}


def dropout_invalid_p(inputs: Arrays) -> Arrays:
    """The default p is 0.5, probabilities are accepted and stored, anything outside [0, 1] raises ValueError."""
    out = {
        "p_default": np.array(float(Dropout().p)),
        "p_good": np.array([float(Dropout(p).p) for p in GOOD_P]),
    }
    for k, p in enumerate(BAD_P):
        out[f"err_bad_{k}"], _ = raises(lambda p=p: Dropout(p))
    return out


def dropout_modes(inputs: Arrays) -> Arrays:
    """Eval mode and training=False are the identity; training=True drops even in eval mode, keeping the mode."""
    x = inputs["x"]
    drop = Dropout(0.5)
    out = {"ok_new_training": flag(drop.training is True)}
    drop.eval()
    out["eval_identity"] = arr(drop(Tensor(x.copy())), "Dropout in eval mode")
    drop.train()
    out["train_false"] = arr(drop(Tensor(x.copy()), training=False), "Dropout(x, training=False)")
    drop.eval()
    out["raw_override"] = arr(drop(Tensor(x.copy()), training=True), "Dropout(x, training=True)")
    out["ok_mode_kept"] = flag(drop.training is False)
    out["eval_again"] = arr(drop(Tensor(x.copy())), "Dropout in eval mode")
    return out


def dropout_edge_p(inputs: Arrays) -> Arrays:
    """p = 0 keeps everything unscaled, p = 1 zeroes everything without NaN (also for the int p = 1)."""
    x, labels = inputs["x"], LABELS["dropout_edge_p"]
    with np.errstate(all="ignore"):
        return {
            "p0": arr(Dropout(0.0)(Tensor(x.copy())), labels["p0"]),
            "p0_forced": arr(Dropout(0)(Tensor(x.copy()), training=True), labels["p0_forced"]),
            "p1": arr(Dropout(1.0)(Tensor(x.copy())), labels["p1"]),
            "p1_int": arr(Dropout(1)(Tensor(x.copy())), labels["p1_int"]),
        }


def dropout_training_values(inputs: Arrays) -> Arrays:
    """Dropout(p) in training mode on 100,000 non-zero inputs: two calls for p = 0.5 and 0.2, one for 0.8 and
    one for 0.05 on a 3-D input. The judge checks values, dropped share and fresh masks."""
    x, out = inputs["x"], {}
    for k, p in enumerate(inputs["p"]):
        xk = x.reshape(tuple(inputs["shape_3d"])) if k == 3 else x
        for call in ("a", "b") if k < 2 else ("a",):
            out[f"raw_y{k}{call}"] = arr(Dropout(float(p))(Tensor(xk.copy())), f"Dropout({float(p)})")
    return out


def dropout_mean_preserved(inputs: Arrays) -> Arrays:
    """Dropout(p) on 50,000 copies of a 4-vector, for each p; the judge checks every column's mean."""
    x = np.tile(inputs["values"], (int(inputs["trials"]), 1))
    return {f"raw_y{k}": arr(Dropout(float(p))(Tensor(x.copy())), f"Dropout({p})") for k, p in enumerate(inputs["p"])}


def dropout_hidden_other_p(inputs: Arrays) -> Arrays:
    """Dropout for p = 0.1, 0.25 (given as np.float32), 0.75 and 0.9 in training mode."""
    x, out = inputs["x"], {}
    for k, p in enumerate(inputs["p"]):
        prob = np.float32(p) if k == 1 else float(p)
        out[f"raw_y{k}"] = arr(Dropout(prob)(Tensor(x.copy())), f"Dropout({p})")
    return out


def sequential_forward_order(inputs: Arrays) -> Arrays:
    """Layers apply first to last; a Linear-ReLU-Linear network (weights returned, judged against NumPy)."""
    x = inputs["x_small"]
    out = {
        "add_then_double": arr(Sequential(_AddOne(), _Double())(Tensor(x)), "Sequential(AddOne(), Double())(x)"),
        "double_then_add": arr(Sequential(_Double(), _AddOne())(Tensor(x)), "Sequential(Double(), AddOne())(x)"),
        "empty": arr(Sequential()(Tensor(x)), "Sequential()(x)"),
        "four": arr(Sequential(_AddOne(), _Double(), _AddOne(), _Double())(Tensor(x)), "Sequential(...)(x)"),
    }
    _seed(inputs)
    first, second = Linear(3, 5), Linear(5, 2)
    first.bias.data[...] = inputs["b1"]
    second.bias.data[...] = inputs["b2"]
    model = Sequential(first, ReLU(), second)
    for key, t in (("w1", first.weight), ("b1", first.bias), ("w2", second.weight), ("b2", second.bias)):
        out[f"raw_{key}"] = arr(t, "a Linear parameter")
    out["raw_y"] = arr(model(Tensor(inputs["x"])), "Sequential(Linear(3, 5), ReLU(), Linear(5, 2))")
    return out


def sequential_parameters(inputs: Arrays) -> Arrays:
    """parameters() in layer order, each Tensor once (shared layers, nested Sequentials), [] without weights."""
    first, second = Linear(3, 4), Linear(4, 2)
    params = Sequential(first, ReLU(), second).parameters()
    out = {"ok_list": flag(isinstance(params, list))}
    out["order"] = _positions(params, [first.weight, first.bias, second.weight, second.bias])
    shared = Linear(4, 4)
    out["tied"] = _positions(Sequential(shared, ReLU(), shared).parameters(), [shared.weight, shared.bias])
    outer_linear, inner_linear = Linear(3, 2), Linear(2, 3, bias=False)
    outer = Sequential(outer_linear, Sequential(inner_linear, ReLU()))
    out["nested"] = _positions(outer.parameters(), [outer_linear.weight, outer_linear.bias, inner_linear.weight])
    out["no_weights"] = _positions(Sequential(ReLU(), Dropout(0.5)).parameters(), [])
    twin_a, twin_b = Linear(4, 4), Linear(4, 4)  # equal zero biases, different Tensors
    twins = [twin_a.weight, twin_a.bias, twin_b.weight, twin_b.bias]
    out["equal_values"] = _positions(Sequential(twin_a, twin_b).parameters(), twins)
    last = Linear(4, 1)
    deep = Sequential(Sequential(shared, ReLU()), Sequential(Sequential(shared)), last)
    out["deep"] = _positions(deep.parameters(), [shared.weight, shared.bias, last.weight, last.bias])
    return out


def sequential_train_eval(inputs: Arrays) -> Arrays:
    """eval()/train()/train(False) return the model and reach nested layers; eval is deterministic, training not."""
    _seed(inputs)
    inner_linear, inner_drop, relu, last_drop = Linear(4, 4), Dropout(0.5), ReLU(), Dropout(0.3)
    first = Linear(8, 4)
    inner = Sequential(inner_linear, inner_drop)
    model = Sequential(first, relu, inner, last_drop)
    everything = [model, first, relu, inner, inner_linear, inner_drop, last_drop]
    out = {"ok_eval_returns_self": flag(model.eval() is model), "after_eval": _modes(everything)}
    out["ok_train_returns_self"] = flag(model.train() is model)
    out["after_train"] = _modes(everything)
    model.train(False)
    out["after_train_false"] = _modes(everything)
    x = Tensor(inputs["x"])
    model.eval()
    out["raw_eval_a"], out["raw_eval_b"] = (arr(model(x), "the model in eval mode") for _ in range(2))
    model.train()
    out["raw_train_a"], out["raw_train_b"] = (arr(model(x), "the model in training mode") for _ in range(2))
    innermost = Dropout(0.9)
    level2 = Sequential(innermost)
    level1 = Sequential(level2, ReLU())
    deep = Sequential(level1)
    deep.eval()
    out["deep_after_eval"] = _modes([deep, level1, level2, innermost])
    out["deep_eval_output"] = arr(deep(Tensor(inputs["x_positive"])), "the three-level model in eval mode")
    deep.train()
    out["deep_after_train"] = _modes([deep, level1, level2, innermost])
    return out


def sequential_container(inputs: Arrays) -> Arrays:
    """len, indexing, iteration and slicing share the layers; a slice is a working model."""
    a, b, c = Linear(2, 3), ReLU(), Linear(3, 1)
    model = Sequential(a, b, c)
    head = model[:2]
    x = Tensor(inputs["x"])
    return {
        "length": np.array(len(model), dtype=np.int64),
        "ok_index": flag(model[0] is a and model[1] is b and model[-1] is c),
        "ok_iter": flag([id(layer) for layer in model] == [id(a), id(b), id(c)]),
        "ok_slice": flag(isinstance(head, Sequential) and len(head) == 2 and head[0] is a and head[1] is b),
        "raw_head_then_c": arr(c(head(x)), "c(model[:2](x))"),
        "raw_model": arr(model(x), "model(x)"),
    }


def _mlp() -> tuple[Sequential, Linear, Linear]:
    first, second = Linear(784, 256), Linear(256, 10)
    return Sequential(first, ReLU(), Dropout(0.5), second), first, second


def sequential_mlp_784_256_10(inputs: Arrays) -> Arrays:
    """The 784-256-10 classifier: 4 parameter Tensors, 203,530 values; eval deterministic (judged against its own
    weights), training mode random."""
    _seed(inputs)
    model, first, second = _mlp()
    params = list(model.parameters())
    out = {"n_params": np.array(len(params), dtype=np.int64)}
    if len(params) == 4:
        out |= {f"shape_p{k}": shape(arr(p, f"parameter {k}")) for k, p in enumerate(params)}
    out["n_values"] = np.array(sum(int(np.size(p.data)) for p in params), dtype=np.int64)
    x = Tensor(inputs["pixels"].astype(np.float32) / np.float32(255))
    model.eval()
    y = arr(model(x), "the model's output in eval mode")
    out |= {"shape_y": shape(y), "txt_dtype_y": text(y.dtype.name), "raw_y1": y}
    out["raw_y2"] = arr(model(x), "the model's output in eval mode")
    for key, t in (("w1", first.weight), ("b1", first.bias), ("w2", second.weight), ("b2", second.bias)):
        out[f"raw_{key}"] = arr(t, "a Linear parameter")
    model.train()
    out["raw_t1"], out["raw_t2"] = (arr(model(x), "the model's output in training mode") for _ in range(2))
    return out


def sequential_hidden_deck_mlp_reference(inputs: Arrays) -> Arrays:
    """The deck's MLP with the fixture's weights (int8 codes times a scale) in eval mode on a batch of images."""
    model, first, second = _mlp()
    _set(first, inputs["w1_codes"].astype(np.float32) * inputs["w1_scale"], inputs["b1"])
    _set(second, inputs["w2_codes"].astype(np.float32) * inputs["w2_scale"], inputs["b2"])
    model.eval()
    x = Tensor(inputs["pixels"].astype(np.float32) / np.float32(255))
    return {"y": arr(model(x), "the MLP's output"), "y_again": arr(model(x), "the MLP's output")}


def sequential_hidden_nested_modes(inputs: Arrays) -> Arrays:
    """train()/train(False) reach every nested layer, also one built in eval mode; a nested block's own train()
    changes only that block; eval output equals the layers applied by hand, training output is random."""
    _seed(inputs)
    linear, block_drop, relu, eval_drop, empty = Linear(6, 6), Dropout(0.5), ReLU(), Dropout(0.5).eval(), Sequential()
    block = Sequential(linear, block_drop)
    middle = Sequential(block, relu)
    model = Sequential(middle, eval_drop, empty)
    modules = [model, middle, block, linear, block_drop, relu, eval_drop, empty]
    out = {"ok_train_returns_self": flag(model.train() is model), "after_train": _modes(modules)}
    x = Tensor(inputs["x"])
    out["raw_train_a"], out["raw_train_b"] = (arr(model(x), "the model in training mode") for _ in range(2))
    model.train(False)
    out["after_train_false"] = _modes(modules)
    out["raw_eval"] = arr(model(x), "the model in eval mode")
    out["raw_by_hand"] = arr(relu(linear(x)), "ReLU()(linear(x))")
    block.train()
    out["after_block_train"] = _modes(modules)
    return out
