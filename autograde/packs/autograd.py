"""Check pack of module 05 Autograd (probes: autograde/probes/autograd.py).

Gradients of every operation, activation, loss and layer are compared with the reference's at float32 tolerance,
on seeded random inputs whose shapes exercise broadcasting. Dropout decides its gradients by a random mask: the
pack reads the mask from Dropout's output and judges the gradient by the mask relation (0 where the output is 0,
1/(1-p) times the upstream gradient elsewhere), for one layer and inside the deck's MLP, recomputing the MLP's
gradients in float64 from the mask the student's pass drew.
"""

import numpy as np

from autograde.fixture_io import Arrays, Fixture, Spec, f32, i64
from autograde.judging import Check, close, expected_outputs, f64
from autograde.probes.protocol import Result

# --------------------------------------------------------------------------- fixture inputs


def _nonzero(rng: np.random.Generator, shape) -> np.ndarray:
    """Values with 0.5 <= |v| <= 2: division by them is tame."""
    return f32(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def _elementwise_inputs(rng: np.random.Generator) -> Arrays:
    return {
        "a": f32(rng.standard_normal((3, 4))),
        "b": _nonzero(rng, (3, 4)),
        "g": f32(rng.standard_normal((3, 4))),
        "wide_a": f32(rng.standard_normal((2, 3, 4))),
        "wide_b": _nonzero(rng, (4,)),
        "wide_g": f32(rng.standard_normal((2, 3, 4))),
    }


def _matmul_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.autograd import MATMUL_SHAPES

    out = {}
    for k, (shape_a, shape_b) in enumerate(MATMUL_SHAPES):
        a, b = f32(rng.standard_normal(shape_a)), f32(rng.standard_normal(shape_b))
        out |= {f"a{k}": a, f"b{k}": b, f"g{k}": f32(rng.standard_normal(np.shape(a @ b)))}
    return out


def _reduce_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.autograd import REDUCE_AXES

    a = f32(rng.standard_normal((3, 4, 5)))
    out = {"a": a}
    for name in ("sum", "mean"):
        for k, axis in enumerate(REDUCE_AXES):
            for keepdims in (False, True):
                shape = np.shape(np.sum(a, axis=axis, keepdims=keepdims))
                out[f"g_{name}_{k}_{int(keepdims)}"] = f32(rng.standard_normal(shape))
    return out | {
        "g_reshape": f32(rng.standard_normal((12, 5))),
        "g_t": f32(rng.standard_normal((3, 5, 4))),
        "g_t02": f32(rng.standard_normal((5, 4, 3))),
        "v": f32(rng.standard_normal(3)),
    }


def _broadcasting_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.autograd import BROADCAST_PAIRS

    out = {}
    for k, (shape_a, shape_b) in enumerate(BROADCAST_PAIRS):
        out[f"a{k}"] = f32(rng.uniform(0.5, 2.0, shape_a))
        out[f"b{k}"] = f32(rng.uniform(0.5, 2.0, shape_b))
        out[f"g{k}"] = f32(rng.standard_normal(np.broadcast_shapes(shape_a, shape_b)))
    return out | {"x": f32(rng.uniform(0.5, 2.0, (2, 3))), "m": f32(rng.standard_normal((2, 3)))}


def _params(rng: np.random.Generator, sizes: tuple[int, ...], bias_scale: float = 0.5) -> Arrays:
    """p0, p1, ...: weight (in, out) scaled by sqrt(1/in) and a non-zero bias for each Linear of `sizes`."""
    out = {}
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        out[f"p{2 * k}"] = f32(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in))
        out[f"p{2 * k + 1}"] = f32(rng.standard_normal(n_out) * bias_scale)
    return out


def _linear_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.autograd import LINEAR_SHAPES

    out = {"weight": f32(rng.standard_normal((4, 3))), "bias": f32(rng.standard_normal(3))}
    for k, shape in enumerate(LINEAR_SHAPES):
        out[f"x{k}"] = f32(rng.standard_normal(shape))
        out[f"g{k}"] = f32(rng.standard_normal((*shape[:-1], 3)))
    return out


def _huge_logits_inputs(rng: np.random.Generator) -> Arrays:
    return {
        "huge": f32(rng.choice([-1e4, 0.0, 1e4], (6, 3))),
        "huge_targets": rng.integers(0, 3, 6),
        "mixed": f32(rng.standard_normal((32, 10)) * rng.choice([1.0, 100.0, 1e4], (32, 1))),
        "mixed_targets": rng.integers(0, 10, 32),
    }


def _deck_inputs(rng: np.random.Generator) -> Arrays:
    return _params(rng, (784, 256, 10), 0.1) | {
        "x": f32(rng.random((16, 784))),
        "targets": rng.integers(0, 10, 16),
    }


# --------------------------------------------------------------------------- rules


def _kept(out: np.ndarray, what: str) -> tuple[np.ndarray, list[str]]:
    """Dropout's mask, read from its output (every input is non-zero), and a problem if it drops all or nothing."""
    kept = out != 0
    if kept.all() or not kept.any():
        return kept, [f"{what}: in training mode Dropout should drop some elements and keep others"]
    return kept, []


def dropout_mask_rule(out: Result, fx: Fixture) -> list[str]:
    """For each p: the output is x / (1 - p) where kept, and x's gradient is 0 where the output is 0 and the
    upstream gradient / (1 - p) elsewhere: the mask of the forward pass, whatever mask it drew."""
    x, g = f64(fx.inputs["x"]), f64(fx.inputs["g"])
    problems = []
    for k, p in enumerate(fx.inputs["ps"].tolist()):
        y, grad = out.raw[f"p{k}_out"], out.raw[f"p{k}_grad"]
        kept, problems_k = _kept(y, f"Dropout({p})")
        problems += problems_k
        problems += close(y, np.where(kept, x / (1 - p), 0.0), fx, f"Dropout({p}) forward values")
        problems += close(grad, np.where(kept, g / (1 - p), 0.0), fx, f"Dropout({p}): gradient for x (its mask)")
    return problems


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def deck_mlp_rule(out: Result, fx: Fixture) -> list[str]:
    """The training pass's gradients equal those of the same MLP in float64 with the mask the pass drew (read from
    Dropout's output): (softmax - onehot) / N back through Linear, Dropout's mask / 0.8, ReLU and Linear."""
    i = fx.inputs
    w1, b1, w2, b2, x = (f64(i[k]) for k in ("p0", "p1", "p2", "p3", "x"))
    hidden, dropped = f64(out.raw["hidden"]), f64(out.raw["dropped"])
    problems = close(out.raw["hidden"], np.maximum(x @ w1 + b1, 0), fx, "ReLU's output in training mode")
    _, found = _kept(out.raw["dropped"][hidden > 0], "Dropout(0.2) in the deck MLP")
    problems += found
    scale = np.where(dropped != 0, 1 / 0.8, 0.0)
    problems += close(out.raw["dropped"], hidden * scale, fx, "Dropout(0.2)'s output in the deck MLP")
    n = len(x)
    dlogits = (_softmax(dropped @ w2 + b2) - np.eye(w2.shape[1])[i["targets"]]) / n
    dz = dlogits @ w2.T * scale * (hidden > 0)
    expected = {0: x.T @ dz, 1: dz.sum(axis=0), 2: dropped.T @ dlogits, 3: dlogits.sum(axis=0)}
    names = ("weight of Linear 1", "bias of Linear 1", "weight of Linear 2", "bias of Linear 2")
    for k, grad in expected.items():
        problems += close(out.raw[f"train_p{k}"], grad, fx, f"training mode: gradient of the {names[k]}")
    return problems


# --------------------------------------------------------------------------- the checks

F32 = {"rtol": 1e-5, "atol": 1e-5}  # gradients of size about 1, summed over a few dozen terms in any order
SMALL = {"rtol": 1e-5, "atol": 1e-7}  # gradients of a mean over a batch, of size 0.01 to 0.1

CHECKS = (
    Check(
        "nograd-context",
        points=1,
        title="no_grad() switches recording off for its block, nests, and restores the previous mode, also on errors",
        hint="In __enter__ save GradMode.enabled on self, then set it to False; in __exit__ put the saved value back "
        "(not True) and return False.",
        probe="nograd_context",
        fixture=Spec(seed=0),
    ),
    Check(
        "nograd-hidden-inference",
        points=1,
        title="Inside no_grad() no operation, activation, loss or layer records a graph, and recording resumes "
        "afterwards",
        hint="Every recorded operation asks _needs_grad(), which reads GradMode.enabled: make no_grad() set it to "
        "False on entry and restore the value it found on exit.",
        probe="nograd_hidden_inference",
        fixture=Spec(
            seed=1,
            inputs=lambda rng: {
                "x": f32(rng.standard_normal((4, 5))),
                "target": f32(rng.standard_normal((4, 5))),
                "classes": rng.integers(0, 5, 4),
                "weight": f32(rng.standard_normal((5, 3))),
                "bias": f32(rng.standard_normal(3)),
            },
            rtol=1e-5,
            atol=1e-6,
            terms=5,
        ),
    ),
    Check(
        "ops-unbroadcast",
        points=2,
        title="unbroadcast sums a gradient over the missing leading axes and the stretched size-1 axes, keeping the "
        "operand's shape",
        hint="Sum over the leading axes the operand does not have, then, with keepdims=True, over every axis where "
        "the operand has size 1 and the gradient does not; reshape to the operand's shape.",
        probe="ops_unbroadcast",
        fixture=Spec(
            seed=2,
            inputs=lambda rng: {
                "g": f32(rng.standard_normal((4, 3, 5))),
                "g2": f32(rng.standard_normal((2, 1, 3))),
            },
            **F32,
        ),
    ),
    Check(
        "ops-elementwise-rules",
        points=2,
        title="The rules of + - * / give each operand its gradient, for equal and broadcast shapes and Python numbers",
        hint="d(a + b) passes grad to both, d(a - b) gives -grad to b, d(a * b) gives grad * b to a and grad * a to "
        "b, d(a / b) gives grad / b to a and -grad * a / b**2 to b.",
        probe="ops_elementwise_rules",
        fixture=Spec(seed=3, inputs=_elementwise_inputs, **F32),
    ),
    Check(
        "ops-matmul-rule",
        points=3,
        title="The matmul rule gives grad @ b.T and a.T @ grad, for matrices, batches and 1-D operands",
        hint="The gradient for a is grad @ b.T and for b is a.T @ grad, transposing only the last two axes "
        "(np.swapaxes(..., -1, -2)); the given lines handle 1-D operands.",
        probe="ops_matmul_rule",
        fixture=Spec(seed=4, inputs=_matmul_inputs, rtol=1e-5, atol=1e-5, terms=8),
    ),
    Check(
        "ops-reduce-reshape-rules",
        points=2,
        title="The rules of sum, mean, reshape and transpose, for every axis and keepdims",
        hint="sum broadcasts grad back to the input's shape (first restoring the reduced axes with np.expand_dims "
        "when keepdims is False); mean also divides by the number of elements averaged; reshape and transpose undo "
        "themselves on grad.",
        probe="ops_reduce_reshape_rules",
        fixture=Spec(seed=5, inputs=_reduce_inputs, **F32),
    ),
    Check(
        "backward-chain-rule",
        points=3,
        title="backward() applies the chain rule through Tensor operations and leaves float32 gradients in the "
        "leaves' .grad only",
        hint="Visit the graph from the output back (reversed graph_order), pass each Tensor's gradient to its "
        "grad_fn's input_grads, add what arrives for each input, and store the total in .grad at the leaves.",
        probe="backward_chain_rule",
        fixture=Spec(
            seed=6,
            inputs=lambda rng: {
                "a": f32(rng.uniform(0.5, 2.0, (3, 4))),
                "b": f32(rng.standard_normal((3, 4))),
                "m": f32(rng.standard_normal((4, 3))),
                "v": f32(rng.standard_normal(4)),
                "t": f32(rng.standard_normal((2, 3, 4))),
                "ones": f32(np.ones((6, 2))),
            },
            **F32,
            terms=4,
        ),
    ),
    Check(
        "backward-broadcasting",
        points=2,
        title="Gradients of broadcast operands, of Python numbers on either side and of 0-d Tensors have the "
        "operand's shape and values",
        hint="Each input's gradient must be summed back to its own shape (Node.input_grads does it with your "
        "unbroadcast); a 0-d operand gets the sum of everything.",
        probe="backward_broadcasting",
        fixture=Spec(seed=7, inputs=_broadcasting_inputs, **F32),
    ),
    Check(
        "backward-accumulate-order-depth",
        points=3,
        title="Gradients accumulate over passes, a value used several times gets the sum, graph_order is "
        "topological, and 2,000-deep graphs work",
        hint="Add into .grad when it is not None; collect each Tensor's gradient from all its consumers before "
        "passing it on (reverse topological order); walk the graph with a loop and a stack, not recursion.",
        probe="backward_accumulate_order_depth",
        fixture=Spec(
            seed=8,
            inputs=lambda rng: {"w": f32(rng.standard_normal(3)), "x": f32(rng.standard_normal((2, 2)))},
            **F32,
        ),
    ),
    Check(
        "backward-errors-and-freeing",
        points=2,
        title="backward() refuses non-scalars without a gradient and leaves that do not require grad, frees the "
        "graph unless retain_graph=True, and detach() cuts the graph",
        hint="After a node has passed its gradients on, call its release() unless retain_graph is True; keep the "
        "given checks at the top of backward().",
        probe="backward_errors_and_freeing",
        fixture=Spec(
            seed=9,
            inputs=lambda rng: {"x": f32(rng.standard_normal((2, 3))), "g": f32(rng.standard_normal((2, 3)))},
            **F32,
        ),
    ),
    Check(
        "backward-hidden-accumulate-zero",
        points=2,
        title="Gradients accumulate over backward passes and zero_grad() clears them for every parameter of a model",
        hint="At a leaf, add the new gradient to .grad when it already holds one (a new Tensor, not in place in a "
        "shared array); zero_grad() sets every parameter's grad to None.",
        probe="backward_hidden_accumulate_zero",
        fixture=Spec(
            seed=10,
            inputs=lambda rng: {k: f32(rng.standard_normal((2, 3))) for k in ("w", "v", "x", "x2")},
            **F32,
        ),
    ),
    Check(
        "backward-hidden-nonscalar-error",
        points=1,
        title="backward() on a non-scalar output without a gradient raises RuntimeError naming the shape",
        hint="Without a gradient, backward() works only for a Tensor of one element; for any other raise "
        "RuntimeError with the Tensor's shape in the message.",
        probe="backward_hidden_nonscalar_error",
        fixture=Spec(seed=11, **F32),
    ),
    Check(
        "activation-grads",
        points=3,
        title="ReLU, Sigmoid, Tanh and Softmax (along any dim) record their node and give the right gradient, "
        "also for extreme inputs",
        hint="ReLU passes grad where x > 0, sigmoid multiplies by out * (1 - out), tanh by 1 - out**2, softmax "
        "gives out * (grad - sum(grad * out)) along its dim; use the saved output, never exp of the input.",
        probe="activation_grads",
        fixture=Spec(
            seed=12,
            inputs=lambda rng: {
                "x": f32(np.where(np.abs(x := rng.standard_normal((4, 5)) * 2) < 0.05, 0.5, x)),
                "g": f32(rng.standard_normal((4, 5))),
                "x3": f32(rng.standard_normal((2, 3, 4)) * 2),
                "g3": f32(rng.standard_normal((2, 3, 4))),
                "big": f32([-1000.0, 0.0, 1000.0]),
            },
            rtol=1e-5,
            atol=1e-6,
            terms=5,  # softmax's gradient sums 5 products along its dim (tanh's 1 - out**2 cancels as much near 1)
        ),
    ),
    Check(
        "loss-grads",
        points=3,
        title="MSELoss, CrossEntropyLoss and BinaryCrossEntropyLoss give the gradient of their batch mean with "
        "respect to the prediction",
        hint="MSE: 2 (pred - target) / size; cross-entropy: (softmax(logits) - onehot) / N; BCE: "
        "(p - y) / (p (1 - p)) / size with p clipped as in the forward pass; each times grad.",
        probe="loss_grads",
        fixture=Spec(
            seed=13,
            inputs=lambda rng: {
                "p": f32(rng.standard_normal((4, 3))),
                "t": f32(rng.standard_normal((4, 3))),
                "z": f32(rng.standard_normal((5, 4)) * 3),
                "targets": i64([0, 3, 1, 3, 2]),
                "q": f32(rng.uniform(0.05, 0.95, 6)),
                "y": f32([1.0, 0.0, 1.0, 1.0, 0.0, 0.5]),
            },
            **SMALL,
            terms=4,  # the softmax of 4 classes sums 4 exponentials
        ),
    ),
    Check(
        "loss-hidden-cross-entropy-huge-logits",
        points=2,
        title="CrossEntropyLoss's gradient is finite and equals softmax minus one-hot over N for logits up to 1e4",
        hint="Compute the softmax from the stable log_softmax (exp of logits minus their row maximum), subtract 1 "
        "at each target and divide by N; never exponentiate the raw logits.",
        probe="loss_hidden_cross_entropy_huge_logits",
        fixture=Spec(seed=14, inputs=_huge_logits_inputs, **SMALL, terms=10),  # softmax over 10 classes
    ),
    Check(
        "layers-linear-grads",
        points=3,
        title="Linear's parameters require grad and get x.T @ grad and grad summed over the batch, for 1-D, 2-D "
        "and 3-D inputs",
        hint="With x and grad flattened to rows (x2, grad2): the gradient for x is grad @ weight.T, for the weight "
        "x2.T @ grad2, for the bias grad2.sum(axis=0).",
        probe="layers_linear_grads",
        fixture=Spec(seed=15, inputs=_linear_inputs, **F32, terms=6),
    ),
    Check(
        "layers-dropout-mask",
        points=2,
        title="Dropout's gradient uses the mask of its forward pass, scaled by 1/(1-p); in eval mode it passes "
        "gradients unchanged",
        hint="Multiply grad by the very scale (mask / (1 - p)) the forward pass multiplied x by, saved at forward "
        "time; never draw a new mask in the backward pass.",
        probe="layers_dropout_mask",
        rules=(expected_outputs, dropout_mask_rule),
        fixture=Spec(
            seed=16,
            inputs=lambda rng: {
                "x": f32(rng.uniform(1.0, 2.0, (50, 40))),
                "g": f32(rng.standard_normal((50, 40))),
                "ps": np.array([0.3, 0.5]),
            },
            rtol=1e-5,
            atol=1e-6,
        ),
    ),
    Check(
        "layers-mlp-end-to-end",
        points=3,
        title="A Linear-Tanh-Linear-Sigmoid-Linear MLP with cross-entropy gets its loss and every parameter's "
        "gradient right",
        hint="Each layer's rule must be right on its own: check Linear's three gradients and the activations' rules "
        "first.",
        probe="layers_mlp_end_to_end",
        fixture=Spec(
            seed=17,
            inputs=lambda rng: (
                {k: v * np.float32(0.7) for k, v in _params(rng, (5, 8, 6, 3), 1.0).items()}
                | {"x": f32(rng.standard_normal((7, 5))), "targets": i64([0, 2, 1, 1, 0, 2, 2])}
            ),
            rtol=1e-4,
            atol=1e-6,
            terms=8,
        ),
    ),
    Check(
        "layers-hidden-shared-parameter",
        points=2,
        title="A Linear used twice in one Sequential receives the sum of the gradients of both uses",
        hint="A parameter that feeds two nodes must collect both gradients before it is stored: let backward() add "
        "up every gradient that arrives for a Tensor.",
        probe="layers_hidden_shared_parameter",
        fixture=Spec(
            seed=18,
            inputs=lambda rng: {
                "weight": f32(rng.standard_normal((4, 4)) / 2),  # applied twice in a row: (4, 4)
                "bias": f32(rng.standard_normal(4)),
                "x": f32(rng.standard_normal((6, 4))),
                "g": f32(rng.standard_normal((6, 4))),
            },
            **F32,
            terms=6,
        ),
    ),
    Check(
        "layers-hidden-deck-mlp",
        points=2,
        title="The deck MLP (784-256-10 with ReLU and Dropout) gets every parameter's gradient right, end to end",
        hint="Linear's weight gradient sums over the batch (x.T @ grad), its bias gradient too, and Dropout's "
        "gradient uses its forward pass's mask.",
        probe="layers_hidden_deck_mlp",
        rules=(expected_outputs, deck_mlp_rule),
        fixture=Spec(seed=19, inputs=_deck_inputs, rtol=1e-4, atol=1e-6, terms=784 + 256),
    ),
)
