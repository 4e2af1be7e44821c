"""Package tests for tinytorch.core.layers (Layer, Linear, Dropout, Sequential).

Expected values are computed here with plain NumPy (float64 from the float32 weights and inputs).
Randomness: tinytorch draws from NumPy's global random state, so every test that creates a Linear or
runs Dropout in training mode seeds it first with np.random.seed.
Statistical checks use Bernstein / Laurent-Massart / normal-tail bounds that a correct implementation
fails with probability < 1e-9 for any seed (about 6.5 standard deviations; the seeds make runs deterministic).
"""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FAST, U32, assert_sum_close, finite32, strict_float_errors
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from tinytorch.core.activations import Module, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor

FAIL_PROB = 1e-9
LOG_TERM = math.log(2 / FAIL_PROB)  # ~21.4


def bernstein_halfwidth(variance_sum, max_abs):
    """t with P(|sum of independent zero-mean terms| >= t) <= FAIL_PROB.

    Bernstein's inequality: P(|S| >= t) <= 2 exp(-t^2 / (2 (V + M t / 3))) for terms bounded by M in
    absolute value with total variance V. Solving for the right side = FAIL_PROB gives the root below.
    It is rigorous (no normal approximation) and, for n = 1e6 coin flips, about 6.6 standard deviations.
    """
    a = LOG_TERM * max_abs / 3
    return a + math.sqrt(a * a + 2 * LOG_TERM * variance_sum)


def linear_ref(x, layer):
    """float64 x @ W + b from the layer's float32 tensors, and |x| @ |W| + |b| for the error bound."""
    x64 = np.asarray(x, dtype=np.float64)
    w64 = layer.weight.data.astype(np.float64)
    b64 = np.zeros(w64.shape[1]) if layer.bias is None else layer.bias.data.astype(np.float64)
    return x64 @ w64 + b64, np.abs(x64) @ np.abs(w64) + np.abs(b64)


def seeded_linear(in_features, out_features, seed=0, bias=True):
    """A Linear with seeded weights and (if bias) a non-zero bias, so a forgotten bias shows."""
    np.random.seed(seed)
    layer = Linear(in_features, out_features, bias=bias)
    if bias:
        layer.bias.data = np.random.uniform(-1, 1, out_features).astype(np.float32)
    return layer


class AddConst(Layer):
    """Test helper: x + c, no parameters; does not call super().__init__()."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x + self.c

    def extra_repr(self):
        return f"c={self.c}"


# =========================================================================== Layer contract


def test_layer_forward_not_implemented_names_subclass():
    class Incomplete(Layer):
        pass

    with pytest.raises(NotImplementedError, match=r"^Incomplete must implement forward\(x\)$"):
        Incomplete()(Tensor([1.0]))
    with pytest.raises(NotImplementedError, match=r"^Layer must implement forward\(x\)$"):
        Layer().forward(Tensor([1.0]))


def test_layer_is_a_module_with_empty_parameters_and_training_default():
    class Scale(Layer):
        def __init__(self, factor):  # deliberately no super().__init__()
            self.factor = factor

        def forward(self, x):
            return x * self.factor

    layer = Scale(3.0)
    assert isinstance(layer, Module)
    assert layer.training is True
    assert layer.parameters() == []
    assert repr(layer) == "Scale()"
    assert layer.eval() is layer
    assert layer.training is False
    assert layer.train() is layer
    assert layer.training is True


def test_layer_call_passes_extra_arguments():
    class Affine(Layer):
        def forward(self, x, scale, *, shift=0.0):
            return x * scale + shift

    x = np.array([[1.0, -2.0], [0.5, 4.0]], dtype=np.float32)
    out = Affine()(Tensor(x), 3.0, shift=-1.0)
    np.testing.assert_array_equal(out.data, x.astype(np.float64) * 3.0 - 1.0)  # exact in float32
    np.testing.assert_array_equal(Affine()(Tensor(x), 2.0).data, x * 2)


# =========================================================================== Linear


def test_linear_parameter_shapes_dtypes_and_zero_bias():
    np.random.seed(0)
    layer = Linear(5, 3)
    assert layer.in_features == 5 and layer.out_features == 3
    assert isinstance(layer.weight, Tensor) and isinstance(layer.bias, Tensor)
    assert layer.weight.shape == (5, 3)
    assert layer.weight.dtype == np.float32
    assert layer.bias.shape == (3,)
    assert layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, np.zeros(3, dtype=np.float32))
    params = layer.parameters()
    assert len(params) == 2
    assert params[0] is layer.weight and params[1] is layer.bias


def test_linear_without_bias():
    np.random.seed(0)
    layer = Linear(4, 2, bias=False)
    assert layer.bias is None
    params = layer.parameters()
    assert len(params) == 1 and params[0] is layer.weight
    x = np.random.randn(3, 4).astype(np.float32)
    expected, abs_sum = linear_ref(x, layer)
    assert_sum_close(layer(Tensor(x)).data, expected, abs_sum, n_terms=4)
    assert repr(layer) == "Linear(in_features=4, out_features=2, bias=False)"


def test_linear_init_is_reproducible_and_follows_the_documented_recipe():
    np.random.seed(42)
    first = Linear(6, 4)
    np.random.seed(42)
    second = Linear(6, 4)
    np.testing.assert_array_equal(first.weight.data, second.weight.data)

    np.random.seed(42)
    expected = (np.random.randn(6, 4) * np.sqrt(1.0 / 6)).astype(np.float32)
    np.testing.assert_array_equal(first.weight.data, expected)

    np.random.seed(43)
    assert not np.array_equal(Linear(6, 4).weight.data, first.weight.data)


@pytest.mark.parametrize(("in_features", "out_features"), [(400, 2500), (2500, 400)])
def test_linear_init_statistics(in_features, out_features):
    """1e6 weights ~ N(0, 1/in_features); in != out so scaling by out_features would fail."""
    np.random.seed(7)
    w = Linear(in_features, out_features).weight.data.astype(np.float64).ravel()
    n, sigma = w.size, math.sqrt(1.0 / in_features)
    # The sample mean is exactly N(0, sigma^2/n); |z| > 6.5 has probability 8e-11.
    assert abs(w.mean()) <= 6.5 * sigma / math.sqrt(n)
    # n * var / sigma^2 ~ chi2(n) (mean known to be 0). Laurent-Massart: P(chi2 - n >= 2 sqrt(n t) + 2 t) <= e^-t
    # and P(n - chi2 >= 2 sqrt(n t)) <= e^-t; t = ln(2/1e-9) makes the two-sided failure chance < 1e-9.
    chi2 = np.sum(w**2) / sigma**2
    # (For n = 1e6 this pins the standard deviation to within 0.5% of sqrt(1/in_features).)
    assert -2 * math.sqrt(n * LOG_TERM) <= chi2 - n <= 2 * math.sqrt(n * LOG_TERM) + 2 * LOG_TERM


def test_linear_forward_equals_x_at_w_plus_b():
    layer = seeded_linear(4, 3, seed=1)
    x = np.random.uniform(-2, 2, size=(5, 4)).astype(np.float32)
    out = layer(Tensor(x))
    assert isinstance(out, Tensor)
    assert out.shape == (5, 3)
    assert out.dtype == np.float32
    expected, abs_sum = linear_ref(x, layer)
    assert_sum_close(out.data, expected, abs_sum, n_terms=4)
    # also via forward() directly
    assert_sum_close(layer.forward(Tensor(x)).data, expected, abs_sum, n_terms=4)


def test_linear_forward_uses_weight_orientation_in_by_out():
    """A hand-made example where a transposed weight or a missing bias gives a different answer."""
    np.random.seed(0)
    layer = Linear(2, 3)
    layer.weight.data = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    layer.bias.data = np.array([0.5, -1.0, 10.0], dtype=np.float32)
    out = layer(Tensor([[1.0, 1.0], [2.0, -1.0]]))
    np.testing.assert_array_equal(out.data, np.array([[5.5, 6.0, 19.0], [-1.5, -2.0, 10.0]], dtype=np.float32))


@pytest.mark.parametrize(
    ("x_shape", "out_shape"),
    [((1, 6), (1, 2)), ((6,), (2,)), ((3, 4, 6), (3, 4, 2)), ((2, 1, 3, 6), (2, 1, 3, 2))],
    ids=["batch-of-1", "1d", "3d", "4d"],
)
def test_linear_input_shapes(x_shape, out_shape):
    layer = seeded_linear(6, 2, seed=3)
    x = np.random.uniform(-1, 1, size=x_shape).astype(np.float32)
    out = layer(Tensor(x))
    assert out.shape == out_shape
    assert out.dtype == np.float32
    expected, abs_sum = linear_ref(x, layer)
    assert_sum_close(out.data, expected, abs_sum, n_terms=6)


def test_linear_integer_input_gives_float32_output():
    layer = seeded_linear(3, 2, seed=4)
    x = np.array([[1, 2, 3], [-4, 0, 5]], dtype=np.int64)
    out = layer(Tensor(x, dtype=np.int64))
    assert out.dtype == np.float32
    expected, abs_sum = linear_ref(x, layer)
    assert_sum_close(out.data, expected, abs_sum, n_terms=3)


@pytest.mark.parametrize("x_shape", [(2, 5), (5,), (2, 3, 1)])
def test_linear_wrong_width_error_names_layer_and_shapes(x_shape):
    np.random.seed(0)
    layer = Linear(4, 3)
    message = (
        f"Linear(in_features=4, out_features=3, bias=True) got input of shape {x_shape}, which does not fit "
        "weight of shape (4, 3): the last input dimension must be 4"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        layer(Tensor(np.zeros(x_shape)))


@pytest.mark.parametrize("raw", [np.zeros((2, 4)), [[0.0] * 4]])
def test_linear_asks_for_a_tensor_when_given_raw_data(raw):
    layer = "Linear(in_features=4, out_features=3, bias=True)"
    message = f"{layer} expects a Tensor, got {type(raw).__name__}; wrap it as Tensor(x)"
    with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
        Linear(4, 3)(raw)


@pytest.mark.parametrize("bad", [0, -3, 2.0, 2.5, True, "4", None])
@pytest.mark.parametrize("which", ["in_features", "out_features"])
def test_linear_rejects_invalid_feature_counts(which, bad):
    args = {"in_features": 4, "out_features": 3, which: bad}
    message = f"Linear: {which} must be a positive integer, got {bad!r}"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        Linear(args["in_features"], args["out_features"])


def test_linear_accepts_numpy_integers():
    np.random.seed(0)
    layer = Linear(np.int64(3), np.int32(2))
    assert layer.weight.shape == (3, 2)
    assert type(layer.in_features) is int and type(layer.out_features) is int
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)"


def test_linear_repr():
    np.random.seed(0)
    assert repr(Linear(784, 256)) == "Linear(in_features=784, out_features=256, bias=True)"


@FAST
@given(
    in_features=st.integers(1, 8),
    out_features=st.integers(1, 8),
    batch=array_shapes(min_dims=0, max_dims=2, max_side=4),
    data=st.data(),
)
def test_linear_is_affine(in_features, out_features, batch, data):
    """f(a + b) - f(0) == (f(a) - f(0)) + (f(b) - f(0)), and f(0) == bias."""
    layer = seeded_linear(in_features, out_features, seed=in_features * 10 + out_features)
    elements = st.floats(-10, 10, width=32, allow_subnormal=False)
    a = data.draw(arrays(np.float32, (*batch, in_features), elements=elements))
    b = data.draw(arrays(np.float32, (*batch, in_features), elements=elements))
    f0 = layer(Tensor(np.zeros_like(a))).data
    np.testing.assert_array_equal(f0, np.broadcast_to(layer.bias.data, f0.shape))  # 0 @ W is exactly 0
    lhs = (layer(Tensor(a) + Tensor(b)) - Tensor(f0)).data.astype(np.float64)
    rhs = ((layer(Tensor(a)) - Tensor(f0)) + (layer(Tensor(b)) - Tensor(f0))).data.astype(np.float64)
    # Each side is a few float32 affine maps: rounding a + b, three forward passes (each within
    # (k+1) u (|x| @ |W| + |b|)) and three subtractions/additions. All are bounded by
    # 4 (k + 2) u S with S = (|a| + |b|) @ |W| + |b|  (3(k+1) + 5 <= 4(k+2) for k >= 0).
    w_abs = np.abs(layer.weight.data.astype(np.float64))
    scale = (np.abs(a.astype(np.float64)) + np.abs(b.astype(np.float64))) @ w_abs + np.abs(layer.bias.data)
    bound = 4 * (in_features + 2) * U32 * scale + 1e-30
    assert np.all(np.abs(lhs - rhs) <= bound)


# =========================================================================== Dropout


@pytest.mark.parametrize("p", [-0.1, 1.1, -1e-9, 2, float("nan"), float("inf"), True, False, "0.5", None, [0.5]])
def test_dropout_rejects_invalid_p(p):
    message = f"Dropout: p must be a probability between 0 and 1, got {p!r}"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        Dropout(p)


@pytest.mark.parametrize("p", [0, 0.0, 0.25, 0.5, 1, 1.0, np.float32(0.25), np.int64(1)])
def test_dropout_accepts_valid_p(p):
    d = Dropout(p)
    assert type(d.p) is float
    assert d.p == float(p)
    assert d.training is True
    assert d.parameters() == []


def test_dropout_default_p_and_repr():
    assert Dropout().p == 0.5
    assert repr(Dropout()) == "Dropout(p=0.5)"
    assert repr(Dropout(0.2)) == "Dropout(p=0.2)"
    assert repr(Dropout(0)) == "Dropout(p=0.0)"  # p is stored as a float


def _ones(n=1000):
    return Tensor(np.ones(n, dtype=np.float32))


def test_dropout_eval_mode_is_identity():
    np.random.seed(0)
    x = np.random.randn(50, 20).astype(np.float32)
    d = Dropout(0.5)
    assert d.eval() is d
    out = d(Tensor(x))
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.data, x)


def test_dropout_training_false_argument_overrides_train_mode():
    np.random.seed(0)
    x = np.random.randn(50, 20).astype(np.float32)
    d = Dropout(0.5)
    assert d.training is True
    np.testing.assert_array_equal(d(Tensor(x), training=False).data, x)
    np.testing.assert_array_equal(d.forward(Tensor(x), training=False).data, x)


def test_dropout_training_true_argument_overrides_eval_mode():
    np.random.seed(0)
    d = Dropout(0.5).eval()
    out = d(_ones(), training=True).data
    assert d.training is False  # the override does not change the mode
    assert np.any(out == 0.0), "training=True in eval mode must still drop"
    assert set(np.unique(out)) == {0.0, 2.0}


def test_dropout_p0_is_identity_in_training():
    np.random.seed(0)
    x = np.random.randn(40, 5).astype(np.float32)
    np.testing.assert_array_equal(Dropout(0.0)(Tensor(x)).data, x)
    np.testing.assert_array_equal(Dropout(0)(Tensor(x), training=True).data, x)


def test_dropout_p1_gives_zeros_without_nan_or_warnings():
    np.random.seed(0)
    x = np.random.randn(40, 5).astype(np.float32)
    with strict_float_errors():
        out = Dropout(1.0)(Tensor(x))
        out_int_p = Dropout(1)(Tensor(x))
    for o in (out, out_int_p):
        assert o.shape == x.shape
        assert o.dtype == np.float32
        assert not np.any(np.isnan(o.data))
        np.testing.assert_array_equal(o.data, np.zeros_like(x))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_training_elements_are_zero_or_scaled(p):
    np.random.seed(11)
    x = np.random.uniform(0.5, 2.0, size=(200, 50)).astype(np.float32)  # no zeros in the input
    out = Dropout(p)(Tensor(x))
    assert out.shape == x.shape
    assert out.dtype == np.float32
    scaled = x.astype(np.float64) / (1 - p)
    kept = out.data != 0
    # survivors: x / (1 - p) rounded to float32 (p itself is rounded) -> a few ulps, rtol 1e-6
    np.testing.assert_allclose(out.data[kept], scaled[kept], rtol=1e-6, atol=0)
    assert 0 < kept.sum() < kept.size


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
@FAST
@given(x=arrays(np.float32, array_shapes(min_dims=1, max_dims=3, max_side=6), elements=st.floats(-1e3, 1e3, width=32)))
def test_dropout_training_elements_are_zero_or_scaled_property(p, x):
    np.random.seed(0)  # hypothesis also seeds NumPy per example; explicit here for clarity
    out = Dropout(p)(Tensor(x)).data
    assert out.shape == x.shape
    assert out.dtype == np.float32
    scaled = x.astype(np.float64) / (1 - p)
    is_zero = out == 0
    close = np.isclose(out, scaled, rtol=1e-6, atol=1e-30)  # float32 rounding of x / (1-p); subnormal slack
    assert np.all(is_zero | close)


def test_dropout_float32_preserved_and_shape_kept():
    np.random.seed(0)
    x = Tensor(np.random.randn(3, 4, 5).astype(np.float32))
    for d in (Dropout(0.3), Dropout(0.3).eval()):
        out = d(x)
        assert out.dtype == np.float32
        assert out.shape == (3, 4, 5)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_drops_a_share_p(p):
    np.random.seed(2024)
    n = 1_000_000
    out = Dropout(p)(Tensor(np.ones(n, dtype=np.float32))).data
    dropped = int(np.sum(out == 0))
    # dropped ~ Binomial(n, p): a sum of n independent (indicator - p) terms, each |.| <= 1, variance p(1-p).
    # Bernstein half-width ~6.6 binomial standard deviations (p=0.5: 3300 of 1e6).
    assert abs(dropped - n * p) <= bernstein_halfwidth(n * p * (1 - p), 1.0)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_preserves_the_mean(p):
    np.random.seed(99)
    n = 1_000_000
    x = np.random.uniform(0, 1, n).astype(np.float32)
    x64 = x.astype(np.float64)
    out = Dropout(p)(Tensor(x)).data.astype(np.float64)
    # Given x, the terms out_i - x_i are independent with mean 0, variance x_i^2 p/(1-p) and
    # |out_i - x_i| <= max(x) max(1, p/(1-p)). Bernstein bounds their sum with failure chance 1e-9
    # (p=0.2: mean within ~0.002; scaling by 1/p or by 1-p instead of 1/(1-p) is off by >= 0.1).
    halfwidth = bernstein_halfwidth(np.sum(x64**2) * p / (1 - p), x64.max() * max(1.0, p / (1 - p))) / n
    assert abs(out.mean() - x64.mean()) <= halfwidth


def test_dropout_draws_a_fresh_mask_each_call_and_follows_the_seed():
    d = Dropout(0.5)
    x = _ones(1000)
    np.random.seed(5)
    first = d(x).data
    second = d(x).data
    assert not np.array_equal(first, second), "the same mask was reused (chance 2^-1000 otherwise)"
    np.random.seed(5)
    np.testing.assert_array_equal(d(x).data, first)


def test_dropout_does_not_modify_input():
    np.random.seed(0)
    x = np.random.randn(20, 20).astype(np.float32)
    t = Tensor(x.copy())
    Dropout(0.5)(t)
    np.testing.assert_array_equal(t.data, x)


# =========================================================================== Sequential


def test_sequential_applies_layers_in_order():
    lin = seeded_linear(3, 3, seed=8)
    lin.weight.data = -np.abs(lin.weight.data)  # negative weights: ReLU before/after differ
    x = np.array([[1.0, -2.0, 0.5], [-1.0, 3.0, 2.0]], dtype=np.float32)
    x64 = x.astype(np.float64)
    w64, b64 = lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)

    lin_then_relu = Sequential(lin, ReLU())(Tensor(x)).data
    relu_then_lin = Sequential(ReLU(), lin)(Tensor(x)).data
    abs_sum = np.abs(x64) @ np.abs(w64) + np.abs(b64)
    assert_sum_close(lin_then_relu, np.maximum(x64 @ w64 + b64, 0), abs_sum, n_terms=3)  # relu is 1-Lipschitz
    assert_sum_close(relu_then_lin, np.maximum(x64, 0) @ w64 + b64, abs_sum, n_terms=3)
    assert not np.allclose(lin_then_relu, relu_then_lin)

    # with hand-checkable non-commuting layers: (x + 1) then relu vs relu then (x + 1)
    v = np.array([-3.0, -0.5, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(Sequential(AddConst(1.0), ReLU())(Tensor(v)).data, np.maximum(v + 1, 0))
    np.testing.assert_array_equal(Sequential(ReLU(), AddConst(1.0))(Tensor(v)).data, np.maximum(v, 0) + 1)


def test_sequential_equals_manual_composition():
    np.random.seed(3)
    a, b, c = Linear(4, 5), Tanh(), Linear(5, 2)
    x = Tensor(np.random.randn(6, 4).astype(np.float32))
    np.testing.assert_array_equal(Sequential(a, b, c)(x).data, c(b(a(x))).data)  # same float32 operations


def test_empty_sequential_is_identity():
    seq = Sequential()
    x = np.array([[1.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(seq(Tensor(x)).data, x)
    assert len(seq) == 0
    assert seq.parameters() == []
    assert repr(seq) == "Sequential()"


def _ids(tensors):
    return [id(t) for t in tensors]


def test_sequential_parameters_in_order():
    np.random.seed(0)
    l1, l2, l3 = Linear(4, 8), Linear(8, 6, bias=False), Linear(6, 2)
    seq = Sequential(l1, ReLU(), l2, Dropout(0.1), l3)
    assert _ids(seq.parameters()) == _ids([l1.weight, l1.bias, l2.weight, l3.weight, l3.bias])


def test_sequential_shared_layer_parameters_listed_once():
    np.random.seed(0)
    shared, other = Linear(4, 4), Linear(4, 2)
    seq = Sequential(shared, ReLU(), shared, other)
    assert _ids(seq.parameters()) == _ids([shared.weight, shared.bias, other.weight, other.bias])
    # also when the repeat hides inside a nested Sequential
    seq2 = Sequential(shared, Sequential(ReLU(), shared, other))
    assert _ids(seq2.parameters()) == _ids([shared.weight, shared.bias, other.weight, other.bias])


def test_nested_sequential_parameters():
    np.random.seed(0)
    l1, l2, l3 = Linear(3, 4), Linear(4, 5), Linear(5, 1)
    seq = Sequential(Sequential(l1, ReLU()), Sequential(Sequential(l2), Sigmoid()), l3)
    assert _ids(seq.parameters()) == _ids([l1.weight, l1.bias, l2.weight, l2.bias, l3.weight, l3.bias])
    x = np.random.randn(2, 3).astype(np.float32)
    expected = l3(Sigmoid()(l2(ReLU()(l1(Tensor(x)))))).data
    np.testing.assert_array_equal(seq(Tensor(x)).data, expected)


def _all_modules(seq):
    for layer in seq:
        yield layer
        if isinstance(layer, Sequential):
            yield from _all_modules(layer)


def test_train_and_eval_reach_every_nested_layer():
    np.random.seed(0)
    inner = Sequential(Linear(4, 4), Dropout(0.5), Sigmoid())
    model = Sequential(Linear(4, 4), ReLU(), inner, Softmax(), Dropout(0.2))
    modules = [model, *_all_modules(model)]
    assert len(modules) == 9
    assert all(m.training for m in modules)

    assert model.eval() is model
    assert all(m.training is False for m in modules), [type(m).__name__ for m in modules if m.training]

    assert model.train() is model
    assert all(m.training is True for m in modules)

    assert model.train(False) is model
    assert all(m.training is False for m in modules)


def test_sequential_container_protocol():
    np.random.seed(0)
    layers = [Linear(4, 8), ReLU(), Dropout(0.5), Linear(8, 2)]
    seq = Sequential(*layers)
    assert len(seq) == 4
    assert seq[0] is layers[0]
    assert seq[2] is layers[2]
    assert seq[-1] is layers[3]
    assert seq[-4] is layers[0]
    assert [id(layer) for layer in seq] == [id(layer) for layer in layers]
    with pytest.raises(IndexError):
        seq[4]

    head = seq[:2]
    assert isinstance(head, Sequential)
    assert len(head) == 2
    assert head[0] is layers[0] and head[1] is layers[1]
    tail = seq[1:]
    assert isinstance(tail, Sequential) and [id(t) for t in tail] == [id(t) for t in layers[1:]]
    every_other = seq[::2]
    assert isinstance(every_other, Sequential) and [id(t) for t in every_other] == [id(layers[0]), id(layers[2])]
    # a slice is a working model
    x = np.random.randn(3, 4).astype(np.float32)
    np.testing.assert_array_equal(head(Tensor(x)).data, ReLU()(layers[0](Tensor(x))).data)


@pytest.mark.parametrize(
    ("args", "position", "type_name"),
    [
        (lambda: ([Linear(2, 3), ReLU()],), 0, "list"),
        (lambda: (Linear(2, 3), 5), 1, "int"),
        (lambda: (ReLU(), Tensor([1.0])), 1, "Tensor"),
        (lambda: (np.tanh,), 0, "ufunc"),  # callable, but not a layer
        (lambda: (ReLU(), lambda x: x), 1, "function"),
    ],
    ids=["list", "int", "tensor", "numpy-function", "lambda"],
)
def test_sequential_rejects_non_layers_with_helpful_message(args, position, type_name):
    np.random.seed(0)
    message = (
        f"Sequential: argument {position} is a {type_name}, not a layer; "
        "pass layers as separate arguments: Sequential(Linear(4, 8), ReLU())"
    )
    with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
        Sequential(*args())


@pytest.mark.parametrize("cls", [ReLU, Linear, Sequential])
def test_sequential_rejects_a_layer_class_and_suggests_an_instance(cls):
    message = f"Sequential: argument 1 is the class {cls.__name__}; did you mean {cls.__name__}()?"
    with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
        Sequential(Tanh(), cls)


def test_sequential_slice_keeps_the_mode():
    np.random.seed(0)
    model = Sequential(Linear(2, 2), Dropout(0.5), ReLU())
    assert model[1:].training is True
    model.eval()
    part = model[1:]
    assert part.training is False
    assert all(layer.training is False for layer in part)


def test_sequential_repr_multiline():
    np.random.seed(0)
    model = Sequential(Linear(4, 8), ReLU(), Sequential(Dropout(0.25), Softmax(dim=0)), Linear(8, 2, bias=False))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.25)\n"
        "    (1): Softmax(dim=0)\n"
        "  )\n"
        "  (3): Linear(in_features=8, out_features=2, bias=False)\n"
        ")"
    )


@FAST
@given(
    x=arrays(
        np.float32,
        array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=finite32,
    )
)
def test_sequential_of_identity_like_layers_is_identity(x):
    width = x.shape[-1]
    np.random.seed(0)
    eye = Linear(width, width)
    eye.weight.data = np.eye(width, dtype=np.float32)  # x @ I + 0 is exact in float32
    model = Sequential(
        Dropout(0.0),
        eye,
        Sequential(Dropout(0.7).eval(), Sequential()),
        Dropout(0.5).eval(),
        AddConst(0.0),
    )
    for mode in ("as built", "eval"):  # as built: Dropout(0.0) is in training mode
        if mode == "eval":
            model.eval()
        out = model(Tensor(x))
        assert out.shape == x.shape
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.data, x)


# --------------------------------------------------------------------------- the deck's MLP


@pytest.fixture
def mlp():
    np.random.seed(0)
    return Sequential(Linear(784, 256), ReLU(), Dropout(0.5), Linear(256, 10))


@pytest.fixture
def batch():
    return np.random.default_rng(1).standard_normal((32, 784)).astype(np.float32)


def test_mlp_parameter_count(mlp):
    params = mlp.parameters()
    assert len(params) == 4
    assert sum(p.size for p in params) == 784 * 256 + 256 + 256 * 10 + 10 == 203_530
    assert [p.shape for p in params] == [(784, 256), (256,), (256, 10), (10,)]


def test_mlp_output_shape_and_dtype(mlp, batch):
    out = mlp(Tensor(batch))
    assert isinstance(out, Tensor)
    assert out.shape == (32, 10)
    assert out.dtype == np.float32


def test_mlp_eval_is_deterministic_and_train_is_stochastic(mlp, batch):
    mlp.eval()
    np.testing.assert_array_equal(mlp(Tensor(batch)).data, mlp(Tensor(batch)).data)
    mlp.train()
    np.random.seed(123)
    first = mlp(Tensor(batch)).data
    second = mlp(Tensor(batch)).data
    assert not np.array_equal(first, second)
    np.random.seed(123)
    np.testing.assert_array_equal(mlp(Tensor(batch)).data, first)  # same seed -> same dropout masks


def test_mlp_eval_matches_numpy_forward(mlp, batch):
    lin1, lin2 = mlp[0], mlp[3]
    for layer in (lin1, lin2):  # non-zero biases so that a dropped bias shows
        layer.bias.data = np.random.default_rng(2).uniform(-0.5, 0.5, layer.out_features).astype(np.float32)
    mlp.eval()
    out = mlp(Tensor(batch)).data

    x = batch.astype(np.float64)
    w1, b1 = lin1.weight.data.astype(np.float64), lin1.bias.data.astype(np.float64)
    w2, b2 = lin2.weight.data.astype(np.float64), lin2.bias.data.astype(np.float64)
    hidden = np.maximum(x @ w1 + b1, 0)
    expected = hidden @ w2 + b2
    # float32 error bound, propagated: layer 1 errs by at most e1 = gamma_785 (|x| @ |W1| + |b1|);
    # ReLU is 1-Lipschitz, so layer 2 errs by at most gamma_257 (|h| @ |W2| + |b2|) + e1 @ |W2|.

    def gamma(n):
        return n * U32 / (1 - n * U32)

    e1 = gamma(785) * (np.abs(x) @ np.abs(w1) + np.abs(b1))
    bound = gamma(257) * (np.abs(hidden) @ np.abs(w2) + np.abs(b2)) + e1 @ np.abs(w2)
    assert np.all(np.abs(out - expected) <= bound)
    assert not np.allclose(out, 0)  # a real signal, not a vacuous comparison


# =========================================================================== packaging


def test_import_tinytorch_does_not_pull_in_notebook_tooling():
    code = (
        "import sys, tinytorch, tinytorch.core.tensor, tinytorch.core.activations, tinytorch.core.layers\n"
        "heavy = ('matplotlib', 'nbformat', 'nbgrader', 'nbdev', 'IPython', 'jupyter')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0].startswith(heavy)}))\n"
    )
    repo_root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"importing tinytorch loaded: {result.stdout.strip()}"
