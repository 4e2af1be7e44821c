"""Check pack of module 03 Layers (probes: autograde/probes/layers.py).

Random weights and dropout masks have no single right answer: their probes return them as raw outputs and this pack's
rules recompute the expected outputs from them or bound them statistically (`bernstein`), so that any valid random
stream earns full marks.
"""

import math

import numpy as np

from autograde.compare import diff
from autograde.fixture_io import Arrays, Fixture, Spec, f32, i64
from autograde.judging import Check, bernstein, close, expected_outputs, f64, shape_is, shorten
from autograde.probes.protocol import Result, decode_text

# --------------------------------------------------------------------------- fixture inputs


def _linear_shapes(rng: np.random.Generator) -> Arrays:
    # the probe's own shapes, imported only when make_fixtures calls this (probes import tinytorch)
    from autograde.probes.layers import BAD_SHAPES, INPUT_SHAPES

    out = {f"x{k}": rng.standard_normal(shape) for k, shape in enumerate(INPUT_SHAPES)}
    return out | {f"bad_shape_{k}": i64(shape) for k, shape in enumerate(BAD_SHAPES)}


def _mlp_weights(rng: np.random.Generator) -> Arrays:
    """Weights as int8 codes times a scale (uniform, std sqrt(1/fan_in)): a quarter of the float32 size."""
    out = {}
    for name, (fan_in, fan_out) in (("w1", (784, 256)), ("w2", (256, 10))):
        out[f"{name}_codes"] = rng.integers(-127, 128, (fan_in, fan_out)).astype(np.int8)
        out[f"{name}_scale"] = f32(np.sqrt(3.0 / fan_in) / 127)
    out |= {"b1": f32(rng.uniform(-0.5, 0.5, 256)), "b2": f32(rng.uniform(-0.5, 0.5, 10))}
    return out | {"pixels": rng.integers(0, 256, (32, 784)).astype(np.uint8)}


# --------------------------------------------------------------------------- rules


def linear_forward_rule(out: Result, fx: Fixture) -> list[str]:
    """Each output equals x @ W + b computed in float64 from the layer's own (returned) weight."""
    i = fx.inputs
    problems = shape_is(out.raw["weight"], (4, 3), "Linear(4, 3).weight")
    problems += shape_is(out.raw["weight_no_bias"], (4, 3), "Linear(4, 3, bias=False).weight")
    problems += shape_is(out.raw["weight_wide"], (7, 2), "Linear(7, 2).weight")
    if problems:
        return problems
    w, b, x = f64(out.raw["weight"]), f64(i["b"]), f64(i["x"])
    cases = [
        ("y", x @ w + b, "Linear(4, 3) with bias [0.5, -1, 2] on a (6, 4) batch"),
        ("y_one", x[:1] @ w + b, "the same layer on a batch of one sample, shape (1, 4)"),
        ("y_1d", x[0] @ w + b, "the same layer on one 1-D sample, shape (4,)"),
        ("y_3d", f64(i["x3"]) @ w + b, "the same layer on a (2, 5, 4) input"),
        ("y_int", f64(i["x_int"]) @ w + b, "the same layer on an int64 input"),
        ("y_no_bias", x @ f64(out.raw["weight_no_bias"]), "Linear(4, 3, bias=False) on a (6, 4) batch"),
        ("y_wide", f64(i["x_wide"]) @ f64(out.raw["weight_wide"]) + f64(i["b_wide"]), "Linear(7, 2)"),
    ]
    for output, ref, name in cases:
        problems += close(out.raw[output], ref, fx, name)
    if not np.array_equal(out.raw["weight_after"], out.raw["weight"]):
        problems.append("forward changed the layer's weight")
    if not np.array_equal(out.raw["bias_after"], i["b"].astype(np.float32)):
        problems.append("forward changed the layer's bias")
    return problems


def _init_stats(w: np.ndarray, fan_in: int, name: str) -> list[str]:
    """Mean 0 (6.5 standard errors), std within 3% of sqrt(1/fan_in), and the share within one std of a normal."""
    w, sigma = f64(w).ravel(), math.sqrt(1.0 / fan_in)
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


def linear_init_rule(out: Result, fx: Fixture) -> list[str]:
    """Linear(512, 128) and Linear(64, 1000) weights look like N(0, 1/in_features); two layers differ."""
    problems = []  # a wrong shape of the first weight is reported by expected_outputs
    if out.raw["weight"].shape == (512, 128):
        problems += _init_stats(out.raw["weight"], 512, "Linear(512, 128) weights")
    narrow = out.raw["weight_narrow"]
    problems += shape_is(narrow, (64, 1000), "Linear(64, 1000).weight") or _init_stats(
        narrow, 64, "Linear(64, 1000) weights"
    )
    if np.array_equal(out.raw["weight_8a"], out.raw["weight_8b"]):
        problems.append("two new Linear(8, 8) layers got the same weights; each layer should draw new random numbers")
    return problems


def _dropout_values(y: np.ndarray, x: np.ndarray, p: float, name: str) -> list[str]:
    """Training output of Dropout(p) on x (no zeros): each element 0 or x / (1 - p), the dropped share close to p."""
    if y.shape != x.shape or y.dtype != np.float32:
        return shape_is(y, x.shape, name) or [f"{name}: dtype {y.dtype}, expected float32"]
    y, x = f64(y).ravel(), f64(x).ravel()
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
    y, x = f64(y), f64(x)
    n = x.size if axis is None else x.shape[axis]
    var = np.sum(x**2, axis=axis) * p / (1 - p)
    top = np.max(np.abs(x), axis=axis) * max(1.0, p / (1 - p))
    bounds = np.vectorize(bernstein)(var, top) / n
    gap = np.abs(y.mean(axis=axis) - x.mean(axis=axis))
    if np.all(gap <= bounds):
        return []
    means = lambda a: ", ".join(f"{v:.4g}" for v in np.atleast_1d(a.mean(axis=axis)))  # noqa: E731
    return [f"{name}: on average the output should equal the input; input mean {means(x)}, output mean {means(y)}"]


def dropout_override_rule(out: Result, fx: Fixture) -> list[str]:
    """training=True in eval mode drops some elements (not all) and scales survivors by 1 / (1 - 0.5)."""
    y, x = out.raw["override"], fx.inputs["x"]
    name = "Dropout(0.5)(x, training=True) in eval mode"
    problems = _dropout_values(y, x, 0.5, name)
    if not problems and not 0 < np.sum(y == 0) < y.size:
        problems.append(f"{name}: should drop some elements but not all")
    return problems


def dropout_training_rule(out: Result, fx: Fixture) -> list[str]:
    """Every call: values 0 or x / (1 - p), dropped share near p; two calls with the same p use different masks."""
    x, problems = fx.inputs["x"], []
    for k, p in enumerate(fx.inputs["p"]):
        xk = x.reshape(tuple(fx.inputs["shape_3d"])) if k == 3 else x
        for call in ("a", "b") if k < 2 else ("a",):
            problems += _dropout_values(out.raw[f"y{k}{call}"], xk, float(p), f"Dropout({p:g}) on a {xk.shape} input")
        if k < 2 and np.array_equal(out.raw[f"y{k}a"] == 0, out.raw[f"y{k}b"] == 0):
            problems.append(f"Dropout({p:g}): two calls dropped the same elements; draw a new mask on every call")
    return problems


def dropout_mean_rule(out: Result, fx: Fixture) -> list[str]:
    """Over 50,000 rows, each column's mean output equals its input value."""
    values, trials, problems = fx.inputs["values"], int(fx.inputs["trials"]), []
    for k, p in enumerate(fx.inputs["p"]):
        y = out.raw[f"y{k}"]
        problems += shape_is(y, (trials, values.size), f"Dropout({p:g})") or _dropout_mean(
            y, np.tile(values, (trials, 1)), float(p), f"Dropout({p:g}) on {trials} copies of {values.tolist()}", axis=0
        )
    return problems


def dropout_other_p_rule(out: Result, fx: Fixture) -> list[str]:
    """For each p: values 0 or x / (1 - p), dropped share near p, mean preserved."""
    x, problems = fx.inputs["x"], []
    for k, p in enumerate(fx.inputs["p"]):
        name = f"Dropout({p:g})"
        problems += _dropout_values(out.raw[f"y{k}"], x, float(p), name) or _dropout_mean(out.raw[f"y{k}"], x, p, name)
    return problems


def _mlp_ref(x: np.ndarray, w1, b1, w2, b2) -> np.ndarray:
    return np.maximum(f64(x) @ f64(w1) + f64(b1), 0) @ f64(w2) + f64(b2)


def sequential_network_rule(out: Result, fx: Fixture) -> list[str]:
    """Sequential(Linear(3, 5), ReLU(), Linear(5, 2)) equals relu(x @ W1 + b1) @ W2 + b2 from its own weights."""
    shapes = {"w1": (3, 5), "b1": (5,), "w2": (5, 2), "b2": (2,)}
    problems = [p for k, s in shapes.items() for p in shape_is(out.raw[f"{k}"], s, f"parameter {k}")]
    if problems:
        return problems
    ref = _mlp_ref(fx.inputs["x"], *(out.raw[f"{k}"] for k in shapes))
    return close(out.raw["y"], ref, fx, "Sequential(Linear(3, 5), ReLU(), Linear(5, 2)) on a (7, 3) batch")


def _differ(a: np.ndarray, b: np.ndarray, name: str) -> list[str]:
    return [] if not np.array_equal(a, b) else [f"{name}: two calls in training mode gave the same output"]


def _same(a: np.ndarray, b: np.ndarray, name: str) -> list[str]:
    return [] if np.array_equal(a, b) else [f"{name}: two calls in eval mode should agree exactly"]


def train_eval_rule(out: Result, fx: Fixture) -> list[str]:
    """In eval mode two calls agree exactly; in training mode dropout makes them differ."""
    return _same(out.raw["eval_a"], out.raw["eval_b"], "the model") + _differ(
        out.raw["train_a"], out.raw["train_b"], "the model with Dropout layers"
    )


def container_rule(out: Result, fx: Fixture) -> list[str]:
    """c(model[:2](x)) equals model(x)."""
    problem = diff(out.raw["head_then_c"], out.raw["model"], rtol=fx.rtol, atol=fx.atol, name="c(model[:2](x))")
    return [f"{problem} (compared with model(x))"] if problem else []


def mlp_rule(out: Result, fx: Fixture) -> list[str]:
    """Eval mode: deterministic and relu(x @ W1 + b1) @ W2 + b2 from the model's weights; training mode: random."""
    problems = _same(out.raw["y1"], out.raw["y2"], "the model")
    shapes = {"w1": (784, 256), "b1": (256,), "w2": (256, 10), "b2": (10,)}
    problems += [p for k, s in shapes.items() for p in shape_is(out.raw[f"{k}"], s, f"parameter {k}")]
    if not problems:
        x = fx.inputs["pixels"].astype(np.float32) / np.float32(255)
        ref = _mlp_ref(x, *(out.raw[f"{k}"] for k in shapes))
        problems += close(out.raw["y1"], ref, fx, "the model in eval mode vs relu(x @ W1 + b1) @ W2 + b2")
    return problems + _differ(out.raw["t1"], out.raw["t2"], "the model")


def nested_modes_rule(out: Result, fx: Fixture) -> list[str]:
    """Training mode is random; eval mode equals the non-random layers applied by hand."""
    problems = _differ(out.raw["train_a"], out.raw["train_b"], "the nested model")
    if not np.array_equal(out.raw["eval"], out.raw["by_hand"]):
        problems.append("the nested model in eval mode should equal its Linear and ReLU applied by hand")
    return problems


def linear_error_message_rule(out: Result, fx: Fixture) -> list[str]:
    """The ValueError for a wrong input width names the input shape and the weight shape (5, 3)."""
    problems = []
    for k in range(3):
        bad, message = tuple(int(n) for n in fx.inputs[f"bad_shape_{k}"]), decode_text(out.raw[f"bad_{k}_message"])
        if out.error[f"bad_{k}"] == "ValueError" and not (str(bad) in message and "(5, 3)" in message):
            problems.append(
                f"the error for an input of shape {bad} should name it and the weight shape (5, 3), "
                f"got: {shorten(message)!r}"
            )
    return problems


# --------------------------------------------------------------------------- the checks


CHECKS = (
    Check(
        "linear-shapes-and-dtype",
        points=1,
        title="Linear(5, 3): (5, 3) float32 weight, zero (3,) bias, output shapes, clear error for a wrong input width",
        hint="weight is (in_features, out_features) and bias (out_features,), both float32 Tensors, and bias=False "
        "means self.bias is None. The error for a wrong width should name the input shape and the weight shape.",
        probe="linear_shapes_and_dtype",
        rules=(expected_outputs, linear_error_message_rule),
        fixture=Spec(seed=0, inputs=_linear_shapes),
    ),
    Check(
        "linear-forward-matches-numpy",
        points=3,
        title="Linear forward computes x @ weight + bias for batches, single samples, 3-D and integer inputs",
        hint="Multiply the input by the weight as stored, (in_features, out_features), then add the bias if there is "
        "one, without changing the parameters.",
        probe="linear_forward_matches_numpy",
        rules=(linear_forward_rule,),
        fixture=Spec(
            seed=1,
            inputs=lambda rng: {
                "b": np.array([0.5, -1.0, 2.0]),
                "x": f32(rng.standard_normal((6, 4))),
                "x3": f32(rng.standard_normal((2, 5, 4))),
                "x_int": np.arange(8, dtype=np.int64).reshape(2, 4),
                "seed_wide": i64(11),
                "b_wide": np.array([1.5, -0.25]),
                "x_wide": f32(rng.standard_normal((3, 7))),
            },
            rtol=1e-5,
            atol=1e-5,
        ),
    ),
    Check(
        "linear-init-statistics",
        points=2,
        title="Linear weights are N(0, 1/in_features), new for every layer, with a zero bias",
        hint="The weights should be normally distributed with mean 0 and standard deviation sqrt(1 / in_features): "
        "check which feature count you scale by and which random function you use.",
        probe="linear_init_statistics",
        rules=(expected_outputs, linear_init_rule),
        fixture=Spec(seed=2),
    ),
    Check(
        "linear-parameters",
        points=1,
        title="parameters() returns [weight, bias], or [weight], as the layer's own Tensors",
        hint="Return a list of the Tensor objects themselves (not copies), weight first, leaving out the bias when "
        "there is none.",
        probe="linear_parameters",
        fixture=Spec(seed=0),
    ),
    Check(
        "dropout-invalid-p",
        points=1,
        title="Dropout accepts 0 <= p <= 1 (default 0.5) and rejects anything else",
        hint="Raise ValueError in __init__ unless p is a number between 0 and 1, both included.",
        probe="dropout_invalid_p",
        fixture=Spec(seed=0),
    ),
    Check(
        "dropout-modes",
        points=2,
        title="Dropout is the identity in eval mode and with training=False; training=True drops for one call",
        hint="Decide whether to drop from the training argument when it is given and from self.training otherwise; "
        "forward should never change self.training.",
        probe="dropout_modes",
        rules=(expected_outputs, dropout_override_rule),
        fixture=Spec(seed=3, inputs=lambda rng: {"x": f32(rng.uniform(1.0, 2.0, (50, 40)))}),
    ),
    Check(
        "dropout-edge-p",
        points=1,
        title="Dropout with p = 0 returns the input, with p = 1 zeros without NaN",
        hint="Handle p = 0 and p = 1 before computing the scale: with p = 1 the scaling would divide 0 by 0.",
        probe="dropout_edge_p",
        fixture=Spec(seed=4, inputs=lambda rng: {"x": f32(rng.uniform(1.0, 2.0, (20, 30)))}),
    ),
    Check(
        "dropout-training-values",
        points=3,
        title="In training each output is 0 or x / (1 - p), about a share p is dropped, with a new mask every call",
        hint="Keep each element with probability 1 - p (not p), divide the kept values by 1 - p, and draw a new random"
        " mask on every call.",
        probe="dropout_training_values",
        rules=(dropout_training_rule,),
        fixture=Spec(
            seed=5,
            inputs=lambda rng: {
                "x": f32(rng.uniform(1.0, 2.0, (200, 500))),
                "p": np.array([0.5, 0.2, 0.8, 0.05]),
                "shape_3d": i64([20, 50, 100]),
            },
        ),
    ),
    Check(
        "dropout-mean-preserved",
        points=1,
        title="Dropout keeps each value's mean over many calls",
        hint="Scale the survivors by 1 / (1 - p), one over the keep probability, not by p or 1 / p.",
        probe="dropout_mean_preserved",
        rules=(dropout_mean_rule,),
        fixture=Spec(
            seed=6,
            inputs=lambda rng: {"values": f32([1.0, -2.0, 3.0, 0.5]), "trials": i64(50_000), "p": np.array([0.5, 0.3])},
        ),
    ),
    Check(
        "sequential-forward-order",
        points=2,
        title="Sequential applies its layers first to last",
        hint="Feed the input through the layers in the order they were given, the output of each becoming the input of"
        " the next.",
        probe="sequential_forward_order",
        rules=(expected_outputs, sequential_network_rule),
        fixture=Spec(
            seed=7,
            inputs=lambda rng: {
                "x_small": f32([[1.0, -2.0, 3.0]]),
                "b1": np.linspace(-1.0, 1.0, 5),
                "b2": np.array([0.3, -0.7]),
                "x": f32(rng.standard_normal((7, 3))),
            },
            rtol=1e-5,
            atol=1e-5,
        ),
    ),
    Check(
        "sequential-parameters",
        points=2,
        title="Sequential.parameters() lists every layer's Tensors in order, each once, nested Sequentials included",
        hint="Ask each layer for its parameters() (a nested Sequential answers for its own layers) and skip a Tensor "
        "you already have, comparing by identity, not value.",
        probe="sequential_parameters",
        fixture=Spec(seed=0),
    ),
    Check(
        "sequential-train-eval",
        points=2,
        title="train()/eval() return the model and reach every nested layer; eval is deterministic",
        hint="Override train(mode) so that it sets the model's own flag, passes the mode on to every layer and returns"
        " self; eval() calls train(False).",
        probe="sequential_train_eval",
        rules=(expected_outputs, train_eval_rule),
        fixture=Spec(
            seed=8,
            inputs=lambda rng: {"x": rng.standard_normal((16, 8)), "x_positive": rng.uniform(1.0, 2.0, (10, 10))},
        ),
    ),
    Check(
        "sequential-container",
        points=1,
        title="len, indexing, iteration and slicing of a Sequential",
        hint="These conveniences are given in the notebook; compare your Sequential with the given code (the layers "
        "should be kept in a list, in order).",
        probe="sequential_container",
        rules=(expected_outputs, container_rule),
        fixture=Spec(seed=0, inputs=lambda rng: {"x": rng.standard_normal((5, 2))}, rtol=1e-6, atol=1e-6),
    ),
    Check(
        "sequential-mlp-784-256-10",
        points=2,
        title="The 784-256-10 classifier: 203,530 parameters, deterministic in eval mode, random in training",
        hint="If the parameter count is off, look at Linear.parameters() and Sequential.parameters(); if eval mode is "
        "random, check that eval() reaches the Dropout layer.",
        probe="sequential_mlp_784_256_10",
        rules=(expected_outputs, mlp_rule),
        fixture=Spec(
            seed=9,
            inputs=lambda rng: {"pixels": rng.integers(0, 256, (32, 784)).astype(np.uint8)},
            rtol=1e-4,
            atol=1e-4,
        ),
    ),
    Check(
        "linear-hidden-reference-outputs",
        points=2,
        title="Linear forward matches reference outputs for a given weight and non-zero bias (2-D, 1-D and 3-D inputs)",
        hint="forward should use self.weight as stored, (in_features, out_features), and add self.bias to every "
        "sample, for any number of leading dimensions.",
        probe="linear_hidden_reference_outputs",
        fixture=Spec(
            seed=13,
            inputs=lambda rng: {
                "weight": f32(rng.standard_normal((6, 4)) / np.sqrt(6)),
                "bias": f32(rng.uniform(-1, 1, 4)),
                "x": f32(rng.standard_normal((5, 6))),
                "x_1d": f32(rng.standard_normal(6)),
                "x_3d": f32(rng.standard_normal((2, 3, 6))),
            },
            rtol=1e-5,
            atol=1e-6,
            terms=6,
        ),
    ),
    Check(
        "linear-hidden-no-bias",
        points=1,
        title="Linear(..., bias=False) has no bias, one parameter, and computes x @ weight",
        hint="With bias=False, store None as the bias, leave it out of parameters() and skip the addition in forward.",
        probe="linear_hidden_no_bias",
        fixture=Spec(
            seed=14,
            inputs=lambda rng: {
                "weight": f32(rng.standard_normal((6, 4)) / np.sqrt(6)),
                "x": f32(rng.standard_normal((5, 6))),
                "x_1d": f32(rng.standard_normal(6)),
            },
            rtol=1e-5,
            atol=1e-6,
            terms=6,
        ),
    ),
    Check(
        "dropout-hidden-other-p",
        points=2,
        title="Dropout is correct for p = 0.1, 0.25 (a NumPy float), 0.75 and 0.9",
        hint="At p = 0.5 the keep and drop probabilities are equal, so swapping them only shows at other p; p may also"
        " arrive as a NumPy number.",
        probe="dropout_hidden_other_p",
        rules=(dropout_other_p_rule,),
        fixture=Spec(
            seed=15,
            inputs=lambda rng: {"x": f32(rng.uniform(0.5, 2.0, (250, 400))), "p": np.array([0.1, 0.25, 0.75, 0.9])},
        ),
    ),
    Check(
        "sequential-hidden-deck-mlp-reference",
        points=2,
        title="The deck's MLP with given weights matches reference outputs in eval mode",
        hint="In eval mode Dropout does nothing, so the model computes relu(x @ W1 + b1) @ W2 + b2; check the order of"
        " the layers and that eval() reaches every one of them.",
        probe="sequential_hidden_deck_mlp_reference",
        fixture=Spec(seed=16, inputs=_mlp_weights, rtol=1e-4, atol=1e-4, terms=784 + 256),
    ),
    Check(
        "sequential-hidden-nested-modes",
        points=1,
        title="train()/eval() reach every nested layer; a nested block's train() changes only that block",
        hint="Set the mode on self and on every layer inside it, without touching the class or any other model.",
        probe="sequential_hidden_nested_modes",
        rules=(expected_outputs, nested_modes_rule),
        fixture=Spec(seed=17, inputs=lambda rng: {"x": f32(rng.standard_normal((64, 6)))}),
    ),
)
