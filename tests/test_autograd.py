"""Package tests for tinytorch.core.autograd: reverse-mode gradients on the Tensor, activations, losses and layers.

Importing tinytorch.core.autograd installs it (for the rest of this test process too; the installed wrappers keep every
forward value of Modules 01-04, which tests below check bit for bit). Expected gradients are derived by hand in float64
NumPy or taken from central finite differences of float64 NumPy versions of the same functions (step 1e-6: truncation
and rounding errors near 1e-9, far below float32's). The gradients under test are computed in float32, so tolerances
are a few hundred float32 roundings (rtol 1e-4) with an absolute floor for entries that cancel to near 0.
"""

import gc
import operator
import weakref

import numpy as np
import pytest
from conftest import FAST, U32, strict_float_errors
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from tinytorch.core import autograd
from tinytorch.core.activations import ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

RTOL, ATOL = 1e-4, 1e-6
# Pairs of shapes that broadcast together, 0-d (min_dims=0) up to 3-d.
SHAPE_PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def numerical_gradient(f, x, h=1e-6):
    """Central differences of the scalar float64 function f at x."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        up = f(x)
        x[index] = saved - h
        down = f(x)
        x[index] = saved
        grad[index] = (up - down) / (2 * h)
    return grad


def sum_to_shape(grad, shape):
    """Reference for summing a broadcast gradient back: add up leading axes, then axes where `shape` has 1."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def leaf(values):
    return Tensor(np.asarray(values), requires_grad=True)


def assert_grad(tensor, expected, rtol=RTOL, atol=ATOL, what=""):
    assert isinstance(tensor.grad, Tensor), f"{what}: no gradient"
    assert tensor.grad.dtype == np.float32, f"{what}: gradient dtype {tensor.grad.dtype}"
    assert tensor.grad.shape == np.shape(expected), f"{what}: gradient shape {tensor.grad.shape}"
    np.testing.assert_allclose(tensor.grad.data, expected, rtol=rtol, atol=atol, err_msg=what)


# --- installation ---------------------------------------------------------------------------------------------


def test_installing_again_wraps_the_earlier_modules_code_once():
    enable_autograd()
    enable_autograd()
    for cls, name in [(Tensor, "__add__"), (Tensor, "__init__"), (ReLU, "forward"), (Linear, "forward")]:
        method = cls.__dict__[name]
        assert not hasattr(method.autograd_original, "autograd_original"), f"{cls.__name__}.{name} wrapped twice"
    a = leaf([1.0, 2.0])
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])


@FAST
@given(st.data())
def test_forward_values_are_those_of_the_earlier_modules_bit_for_bit(data):
    shape_a, shape_b = data.draw(SHAPE_PAIRS).input_shapes
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = Tensor(rng.uniform(0.5, 2.0, shape_a), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 2.0, shape_b))
    for name in ("__add__", "__sub__", "__mul__", "__truediv__"):
        recorded = getattr(Tensor, name)(a, b)
        plain = Tensor.__dict__[name].autograd_original(a, b)
        assert recorded.grad_fn is not None and plain.grad_fn is None
        np.testing.assert_array_equal(recorded.data, plain.data)
        assert recorded.dtype == np.float32


# --- Tensor operations ----------------------------------------------------------------------------------------


@FAST
@given(st.data())
def test_arithmetic_gradients_sum_broadcast_operands_back_to_their_shapes(data):
    shape_a, shape_b = data.draw(SHAPE_PAIRS).input_shapes
    sym = data.draw(st.sampled_from(sorted(ARITHMETIC)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a64 = rng.uniform(0.5, 2.0, shape_a) * rng.choice([-1, 1], shape_a)
    b64 = rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1, 1], shape_b)
    G = rng.standard_normal(np.broadcast_shapes(shape_a, shape_b))
    a, b = leaf(a64), leaf(b64)
    (ARITHMETIC[sym](a, b) * Tensor(G)).sum().backward()
    local = {  # d(a op b)/da and d(a op b)/db, element-wise, by hand
        "+": (1.0, 1.0),
        "-": (1.0, -1.0),
        "*": (b64, a64),
        "/": (1 / b64, -a64 / b64**2),
    }[sym]
    assert_grad(a, sum_to_shape(G * local[0], shape_a), what=f"{shape_a} {sym} {shape_b}: a")
    assert_grad(b, sum_to_shape(G * local[1], shape_b), what=f"{shape_a} {sym} {shape_b}: b")


def test_python_numbers_and_arrays_on_either_side_only_the_tensor_gets_a_gradient():
    x64 = np.array([[0.5, -1.5, 2.0], [1.0, 3.0, -0.25]])
    x = leaf(x64)
    v = np.array([2.0, -1.0, 0.5])
    (2 * x + 1 - x / 4 + 3 / x - v * x + x * v - 1 * -x).sum().backward()
    assert_grad(x, np.full_like(x64, 2 - 0.25 + 1) - 3 / x64**2, what="2x + 1 - x/4 + 3/x + x")


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [
        ((4, 3), (3, 5)),
        ((2, 4, 3), (3, 5)),
        ((2, 4, 3), (2, 3, 5)),
        ((4, 3), (2, 3, 5)),
        ((3,), (3, 5)),
        ((4, 3), (3,)),
        ((3,), (3,)),
        ((3,), (2, 3, 5)),
        ((2, 4, 3), (3,)),
    ],
)
def test_matmul_gradients_match_finite_differences_for_batches_and_vectors(shape_a, shape_b):
    rng = np.random.default_rng(1)
    a64, b64 = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    G = rng.standard_normal(np.shape(a64 @ b64))
    a, b = leaf(a64), leaf(b64)
    ((a @ b) * Tensor(G)).sum().backward()
    assert_grad(a, numerical_gradient(lambda v: np.sum(G * (v @ b64)), a64), what=f"{shape_a} @ {shape_b}: a")
    assert_grad(b, numerical_gradient(lambda v: np.sum(G * (a64 @ v)), b64), what=f"{shape_a} @ {shape_b}: b")


def test_matmul_with_an_array_or_a_list_gives_the_tensor_its_gradient():
    rng = np.random.default_rng(2)
    a64, b64 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    for right in (b64, b64.tolist()):
        a = leaf(a64)
        (a @ right).sum().backward()
        assert_grad(a, np.ones((3, 2)) @ b64.T, what=f"Tensor @ {type(right).__name__}")
    b = leaf(b64)
    (a64 @ b).sum().backward()  # ndarray @ Tensor: Tensor.__rmatmul__
    assert_grad(b, a64.T @ np.ones((3, 2)), what="ndarray @ Tensor")


@FAST
@given(
    st.sampled_from(["sum", "mean"]),
    st.sampled_from([None, 0, 1, -1, (0, 2), (0, 1, 2)]),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_sum_and_mean_gradients_for_every_axis_and_keepdims(name, axis, keepdims, seed):
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal((2, 3, 4))
    out_shape = np.shape(getattr(np, name)(x64, axis=axis, keepdims=keepdims))
    G = rng.standard_normal(out_shape)
    x = leaf(x64)
    (getattr(x, name)(axis=axis, keepdims=keepdims) * Tensor(G)).sum().backward()
    count = x64.size / max(int(np.prod(out_shape)), 1) if name == "mean" else 1.0
    kept = G if keepdims or axis is None else np.expand_dims(G, axis)
    assert_grad(x, np.broadcast_to(kept, x64.shape) / count, what=f"{name}(axis={axis}, keepdims={keepdims})")


def test_reshape_transpose_and_T_pass_gradients_back_in_the_input_layout():
    rng = np.random.default_rng(3)
    x64 = rng.standard_normal((2, 3, 4))
    G = rng.standard_normal((4, 6))
    x = leaf(x64)
    (x.transpose(0, 2).reshape(4, 6) * Tensor(G)).sum().backward()
    assert_grad(x, np.swapaxes(G.reshape(4, 3, 2), 0, 2), what="transpose(0, 2).reshape(4, 6)")
    m = leaf(x64[0])
    (m.T * Tensor(G[:, :3])).sum().backward()
    assert_grad(m, G[:, :3].T, what="T")
    v = leaf([1.0, 2.0, 3.0])
    (v.T * 2.0).sum().backward()
    assert_grad(v, [2.0, 2.0, 2.0], what="T of a 1-D tensor")
    w = leaf(np.arange(6.0))
    (w.reshape((2, 3)) * Tensor(G[:2, :3])).sum().backward()
    assert_grad(w, G[:2, :3].reshape(6), what="reshape((2, 3))")


# --- activations and losses -------------------------------------------------------------------------------------


def softmax64(v, axis):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACTIVATIONS = [
    (ReLU(), lambda v: np.maximum(v, 0)),
    (Sigmoid(), lambda v: 1 / (1 + np.exp(-v))),
    (Tanh(), np.tanh),
    (Softmax(), lambda v: softmax64(v, -1)),
    (Softmax(dim=0), lambda v: softmax64(v, 0)),
    (Softmax(dim=1), lambda v: softmax64(v, 1)),
]


@pytest.mark.parametrize("activation, reference", ACTIVATIONS, ids=[repr(a) for a, _ in ACTIVATIONS])
def test_activation_gradients_match_finite_differences(activation, reference):
    rng = np.random.default_rng(4)
    x64 = rng.standard_normal((3, 4, 5)) * 3
    x64[np.abs(x64) < 1e-3] = 0.5  # ReLU's kink has no finite difference
    G = rng.standard_normal(x64.shape)
    x = leaf(x64)
    (activation(x) * Tensor(G)).sum().backward()
    expected = numerical_gradient(lambda v: np.sum(G * reference(v)), x64)
    assert_grad(x, expected, what=repr(activation))


def test_sigmoid_and_tanh_gradients_are_finite_and_zero_where_they_saturate():
    x = leaf([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with strict_float_errors():
        (Sigmoid()(x) + Tanh()(x)).sum().backward()
    assert_grad(x, [0.0, 0.0, 1.25, 0.0, 0.0], rtol=0, atol=1e-7, what="sigmoid' + tanh' at large |x|")


def test_mse_gradient_is_two_differences_over_n():
    rng = np.random.default_rng(5)
    p64, t64 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for target in (t64, Tensor(t64), t64.tolist()):
        p = leaf(p64)
        MSELoss()(p, target).backward()
        assert_grad(p, 2 * (p64 - t64.astype(np.float32)) / 12, what=f"MSE, target as {type(target).__name__}")


@FAST
@given(st.integers(1, 6), st.integers(2, 7), st.floats(0.1, 50.0), st.integers(0, 2**32 - 1))
def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(n, classes, scale, seed):
    rng = np.random.default_rng(seed)
    z64 = (rng.standard_normal((n, classes)) * scale).astype(np.float32).astype(np.float64)
    targets = rng.integers(0, classes, n)
    z = leaf(z64)
    CrossEntropyLoss()(z, targets).backward()
    expected = (softmax64(z64, 1) - np.eye(classes)[targets]) / n
    # A probability near 1 carries the absolute rounding of float32 near 1 (a few U32) through log, exp and the -1.
    assert_grad(z, expected, rtol=1e-5, atol=8 * U32 / n, what="CE gradient")


def test_cross_entropy_gradient_matches_finite_differences_and_takes_tensor_targets():
    rng = np.random.default_rng(6)
    z64, targets = rng.standard_normal((5, 4)) * 2, np.array([3, 0, 1, 3, 2])
    z = leaf(z64)
    CrossEntropyLoss()(z, Tensor(targets)).backward()

    def ce64(v):
        return np.mean(np.log(np.exp(v).sum(axis=1)) - v[np.arange(5), targets])

    assert_grad(z, numerical_gradient(ce64, z64), what="CE vs finite differences")


def test_cross_entropy_gradient_for_huge_logits_is_exact_and_finite():
    z = leaf([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0], [-1e4, -1e4, -1e4]])
    with strict_float_errors():
        CrossEntropyLoss()(z, np.array([2, 1, 0])).backward()
    third = 1 / 3
    expected = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0], [third - 1, third, third]]) / 3
    assert_grad(z, expected, rtol=1e-6, atol=1e-7, what="CE gradient at logits of +-1e4")


def test_binary_cross_entropy_gradient_inside_and_at_the_clip():
    rng = np.random.default_rng(7)
    q64 = rng.uniform(0.05, 0.95, (3, 4))
    y64 = rng.choice([0.0, 1.0, 0.3], (3, 4))
    q = leaf(q64)
    BinaryCrossEntropyLoss()(q, y64).backward()

    def bce64(v):
        return -np.mean(y64 * np.log(v) + (1 - y64) * np.log(1 - v))

    assert_grad(q, numerical_gradient(bce64, q64), what="BCE vs finite differences")
    # Probabilities of exactly 0 and 1 are clipped: the gradient is that of the clipped value, finite, and points
    # towards the target.
    p = leaf([0.0, 1.0, 0.0, 1.0])
    with strict_float_errors():
        BinaryCrossEntropyLoss()(p, [1.0, 0.0, 0.0, 1.0]).backward()
    eps = BinaryCrossEntropyLoss.eps
    big = 1 / (eps * (1 - eps)) / 4
    np.testing.assert_allclose(p.grad.data, [-(1 - eps) * big, (1 - eps) * big, eps * big, -eps * big], rtol=1e-5)


# --- layers and models ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x_shape", [(5, 4), (4,), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_for_input_weight_and_bias(x_shape, bias):
    np.random.seed(8)
    layer = Linear(4, 3, bias=bias)
    assert all(p.requires_grad for p in layer.parameters())
    if bias:
        layer.bias.data = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    rng = np.random.default_rng(8)
    x64, G = rng.standard_normal(x_shape), rng.standard_normal((*x_shape[:-1], 3))
    x = leaf(x64)
    (layer(x) * Tensor(G)).sum().backward()
    W64 = layer.weight.data.astype(np.float64)
    x2, G2 = x64.reshape(-1, 4), G.reshape(-1, 3)
    assert_grad(x, G @ W64.T, what="Linear: x")
    assert_grad(layer.weight, x2.T @ G2, what="Linear: weight")
    if bias:
        assert_grad(layer.bias, G2.sum(axis=0), what="Linear: bias")


def mlp64(params, x, targets, activation):
    """Sequential(Linear, act, Linear, act, Linear) + cross-entropy in float64 NumPy."""
    W1, b1, W2, b2, W3, b3 = params
    h = activation(activation(x @ W1 + b1) @ W2 + b2)
    z = h @ W3 + b3
    return np.mean(np.log(softmax64(z, 1)[np.arange(len(targets)), targets]) * -1)


@pytest.mark.parametrize(
    "act_cls, act64",
    [(ReLU, lambda v: np.maximum(v, 0)), (Sigmoid, lambda v: 1 / (1 + np.exp(-v))), (Tanh, np.tanh)],
)
def test_sequential_mlp_gradients_of_every_parameter_end_to_end(act_cls, act64):
    np.random.seed(9)
    model = Sequential(Linear(5, 8), act_cls(), Linear(8, 6), act_cls(), Linear(6, 3))
    for p in model.parameters():
        p.data = (np.random.randn(*p.shape) * 0.8).astype(np.float32)
    x64, targets = np.random.randn(7, 5), np.array([0, 2, 1, 1, 0, 2, 2])
    x = leaf(x64)
    CrossEntropyLoss()(model(x), targets).backward()
    params64 = [p.data.astype(np.float64) for p in model.parameters()]
    for i, p in enumerate(model.parameters()):

        def loss_of(v, i=i):
            return mlp64(params64[:i] + [v] + params64[i + 1 :], x64, targets, act64)

        assert_grad(p, numerical_gradient(loss_of, params64[i]), rtol=1e-3, what=f"{act_cls.__name__}: param {i}")
    assert_grad(x, numerical_gradient(lambda v: mlp64(params64, v, targets, act64), x64), rtol=1e-3, what="input")


def test_dropout_backward_uses_the_mask_of_its_forward_pass():
    np.random.seed(10)
    x64 = np.random.uniform(1.0, 2.0, (40, 30))
    G = np.random.randn(40, 30)
    for p in (0.2, 0.5, 0.9):
        x = leaf(x64)
        out = Dropout(p)(x)
        (out * Tensor(G)).sum().backward()
        kept = out.data != 0
        assert 0 < kept.mean() < 1
        np.testing.assert_allclose(out.data[kept], x64[kept] / (1 - p), rtol=1e-6)
        assert_grad(x, G * kept / (1 - p), rtol=1e-6, atol=1e-7, what=f"Dropout({p})")


def test_dropout_identity_cases_pass_gradients_unchanged_and_p_one_blocks_them():
    x64 = np.random.default_rng(11).uniform(1.0, 2.0, (3, 4))
    for drop, expected in [(Dropout(0.5).eval(), 3.0), (Dropout(0.0), 3.0), (Dropout(1.0), 0.0)]:
        x = leaf(x64)
        (drop(x) * 3.0).sum().backward()
        assert_grad(x, np.full((3, 4), expected), what=repr(drop))
    x = leaf(x64)
    assert Dropout(0.5)(x, training=False) is x


def test_a_layer_used_twice_receives_the_sum_of_both_gradients():
    np.random.seed(12)
    shared = Linear(3, 3)
    model = Sequential(shared, Tanh(), shared)
    x64 = np.random.randn(4, 3)
    (model(Tensor(x64)).sum()).backward()
    W, b = shared.weight.data.astype(np.float64), shared.bias.data.astype(np.float64)
    h = np.tanh(x64 @ W + b)
    upstream = np.ones((4, 3))
    first_in = (upstream @ W.T) * (1 - h**2)  # gradient at the first use's output
    assert_grad(shared.weight, h.T @ upstream + x64.T @ first_in, what="shared weight")
    assert_grad(shared.bias, upstream.sum(axis=0) + first_in.sum(axis=0), what="shared bias")


def test_gradients_accumulate_until_zero_grad_clears_every_parameter():
    np.random.seed(13)
    model = Sequential(Linear(3, 4), ReLU(), Sequential(Linear(4, 2)))
    x = Tensor(np.random.rand(5, 3))
    MSELoss()(model(x), np.zeros((5, 2))).backward()
    once = [p.grad.data.copy() for p in model.parameters()]
    MSELoss()(model(x), np.zeros((5, 2))).backward()
    for p, g in zip(model.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad.data, 2 * g, rtol=1e-6)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    MSELoss()(model(x), np.zeros((5, 2))).backward()
    for p, g in zip(model.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-6)


# --- graph recording, no_grad, detach ---------------------------------------------------------------------------


def test_no_grad_records_nothing_nests_and_restores_after_errors():
    x = leaf([1.0, 2.0])
    layer = Linear(2, 2)
    with no_grad():
        with no_grad():
            pass
        outs = [x * 2, x.sum(), ReLU()(x), layer(x), MSELoss()(x, [0.0, 0.0]), Dropout(0.5)(x)]
    assert all(o.grad_fn is None and not o.requires_grad for o in outs if o is not x)
    with pytest.raises(KeyError), no_grad():
        raise KeyError
    assert (x * 2).grad_fn is not None, "recording is on again after no_grad"


def test_without_a_grad_requiring_input_nothing_is_recorded():
    frozen = Linear(3, 2)
    for p in frozen.parameters():
        p.requires_grad = False
    out = Sigmoid()(frozen(Tensor(np.ones((4, 3)))) * 2 + 1)
    assert out.grad_fn is None and not out.requires_grad
    with pytest.raises(RuntimeError, match="requires grad"):
        out.sum().backward()


def test_detach_shares_data_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, y.data)
    (d * x).sum().backward()
    assert_grad(x, [3.0, 6.0], what="d * x with d detached")


def test_backward_errors_say_what_to_do():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(ValueError, match="floating-point"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)
    (x * 2).sum().reshape(1).backward()  # a single number of any shape needs no gradient argument
    assert_grad(x, np.full((2, 3), 2.0), what="backward of a (1,) Tensor")


def test_a_graph_is_freed_after_backward_unless_retain_graph():
    x = leaf([1.0, 2.0, 3.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert_grad(x, [4.0, 8.0, 12.0], what="two passes through a retained graph")
    assert loss.grad_fn.rule is None and loss.grad_fn.inputs == ()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_backward_frees_saved_activations_while_the_loss_still_exists():
    np.random.seed(14)
    model = Sequential(Linear(8, 16), ReLU(), Linear(16, 2))
    hidden = model[1](model[0](Tensor(np.random.rand(4, 8))))
    watched = weakref.ref(hidden)
    loss = CrossEntropyLoss()(model[2](hidden), np.array([0, 1, 0, 1]))
    del hidden
    assert watched() is not None, "the graph keeps the activation until backward"
    loss.backward()
    assert watched() is None, "backward released the graph, and with it the activation"
    assert loss.grad_fn.inputs == ()


def test_graphs_have_no_reference_cycles():
    np.random.seed(15)
    model = Sequential(Linear(8, 16), Sigmoid(), Dropout(0.3), Linear(16, 3), Softmax())
    gc.collect()
    gc.disable()
    try:
        hidden = model[0](Tensor(np.random.rand(4, 8)))
        watched = weakref.ref(hidden)
        loss = MSELoss()(model[4](model[3](model[2](model[1](hidden)))), np.zeros((4, 3)))
        del hidden
        assert watched() is not None
        del loss  # never backward: only reference counting can free the graph
        assert watched() is None, "a reference cycle kept the graph alive"
    finally:
        gc.enable()


def test_a_thousand_layer_chain_needs_no_recursion():
    np.random.seed(16)
    layers = []
    for _ in range(1000):
        layers += [Linear(4, 4), Tanh()]
    model = Sequential(*layers)
    x = leaf(np.random.randn(2, 4))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert np.isfinite(x.grad.data).all()
    y = x
    for _ in range(5000):
        y = y * 1.0001
    x.grad = None
    y.sum().backward()
    assert_grad(x, np.full((2, 4), 1.0001**5000), rtol=2e-3, what="5,000 multiplications")


def test_graph_order_lists_inputs_before_results_each_once():
    a = leaf([1.0])
    b = a * 2
    c = a + b
    e = b * c
    d = e + c
    order = d.graph_order()
    assert [id(t) for t in order] == [id(t) for t in (a, b, c, e, d)]


# --- dtypes ------------------------------------------------------------------------------------------------------


def test_every_gradient_is_float32_whatever_the_operands():
    x64 = leaf(np.array([1.0, 2.0]))
    x = Tensor(np.array([1.5, -2.5]), dtype=np.float64, requires_grad=True)
    ints, bools = np.array([2, 3]), np.array([True, False])
    y = x * ints + x / np.float64(3.0) - bools * x + x @ np.array([1.0, 2.0]) + x64 * 2
    y.sum().backward()
    for t in (x, x64):
        assert t.grad.dtype == np.float32
    assert y.dtype == np.float32
    # the 0-d x @ [1, 2] is broadcast over y's two elements, so its gradient counts twice
    np.testing.assert_allclose(x.grad.data, ints + 1 / 3 - bools + 2 * np.array([1.0, 2.0]), rtol=1e-6)
    z = leaf(np.ones((2, 2)))
    CrossEntropyLoss()(z, np.array([0, 1])).backward()
    assert z.grad.dtype == np.float32 and autograd.GradMode.enabled
