"""Package tests for tinytorch.core.activations (Module base, ReLU, Sigmoid, Tanh, Softmax).

Expected values are computed here with plain NumPy in float64 from the float32 inputs.
"""

import numpy as np
import pytest
from conftest import FAST, finite32, strict_float_errors
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from tinytorch.core.activations import Module, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Tensor

wide32 = st.floats(-1e4, 1e4, width=32, allow_subnormal=False)  # deep in exp()'s overflow range
any_shape = array_shapes(min_dims=1, max_dims=3, max_side=5)


def sigmoid_ref(x):
    """Float64 logistic function as exp(-log(1 + exp(-x))): never overflows and, unlike 0.5 (1 + tanh(x/2)),
    keeps full relative precision for very negative x (no cancellation)."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def softmax_ref(x, axis):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACTIVATIONS = {
    "ReLU": ReLU,
    "Sigmoid": Sigmoid,
    "Tanh": Tanh,
    "Softmax": Softmax,
    "Softmax(dim=0)": lambda: Softmax(dim=0),
}

# --------------------------------------------------------------------------- Module base


class Doubler(Module):  # no __init__ at all
    def forward(self, x, scale=2.0):
        return x * scale


def test_module_subclass_without_init_is_in_training_mode():
    m = Doubler()
    assert m.training is True


def test_train_and_eval_return_self_and_set_the_flag():
    m = Doubler()
    assert m.eval() is m
    assert m.training is False
    assert m.train() is m
    assert m.training is True
    assert m.train(False) is m
    assert m.training is False
    assert m.train(True) is m
    assert m.training is True


def test_mode_is_per_instance():
    a, b = Doubler(), Doubler()
    a.eval()
    assert a.training is False
    assert b.training is True, "eval() on one module changed another"
    assert Doubler().training is True, "eval() changed the class default"
    assert Module.training is True


def test_module_parameters_is_empty_list_and_repr():
    m = Doubler()
    assert m.parameters() == []
    assert isinstance(m.parameters(), list)
    assert repr(m) == "Doubler()"
    assert m.extra_repr() == ""


def test_module_call_runs_forward_with_extra_arguments():
    x = np.array([1.0, -2.0, 3.5], dtype=np.float32)
    out = Doubler()(Tensor(x))
    np.testing.assert_array_equal(out.data, x * 2)
    out = Doubler()(Tensor(x), 3.0)
    np.testing.assert_array_equal(out.data, x.astype(np.float64) * 3)
    out = Doubler()(Tensor(x), scale=-1.0)
    np.testing.assert_array_equal(out.data, -x)


@pytest.mark.parametrize(
    ("make", "text"),
    [(ReLU, "ReLU()"), (Sigmoid, "Sigmoid()"), (Tanh, "Tanh()"), (Softmax, "Softmax(dim=-1)")],
)
def test_activation_repr(make, text):
    assert repr(make()) == text


def test_softmax_repr_shows_dim():
    assert repr(Softmax(dim=0)) == "Softmax(dim=0)"
    assert Softmax().dim == -1
    assert Softmax(dim=1).dim == 1


# --------------------------------------------------------------------------- common contract


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_activation_returns_float32_tensor_of_same_shape(name, shape, dtype):
    rng = np.random.default_rng(0)
    x = Tensor(rng.integers(-5, 6, size=shape), dtype=dtype)
    out = ACTIVATIONS[name]()(x)
    assert isinstance(out, Tensor)
    assert out.shape == shape
    assert out.dtype == np.float32


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_is_a_module_with_modes_and_no_parameters(name):
    act = ACTIVATIONS[name]()
    assert isinstance(act, Module)
    assert act.training is True
    assert act.parameters() == []
    x = Tensor(np.linspace(-3, 3, 12).reshape(3, 4))
    in_train = act(x).data.copy()
    assert act.eval() is act
    assert act.training is False
    np.testing.assert_array_equal(act(x).data, in_train)  # activations ignore the mode
    assert act.train() is act
    assert act.training is True


def test_activations_compose():
    x = np.linspace(-4, 4, 10, dtype=np.float32).reshape(2, 5)
    out = Softmax()(Tanh()(Sigmoid()(ReLU()(Tensor(x)))))
    expected = softmax_ref(np.tanh(sigmoid_ref(np.maximum(x.astype(np.float64), 0))), axis=-1)
    # four float32 stages, each a few ulps (~1e-7 relative) of error: 1e-6 covers the sum
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=1e-7)


def test_activation_does_not_modify_its_input():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
    t = Tensor(x.copy())
    for act in (ReLU(), Sigmoid(), Tanh(), Softmax(), Softmax(dim=0)):
        act(t)
        np.testing.assert_array_equal(t.data, x)


# --------------------------------------------------------------------------- ReLU


def test_relu_values():
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 2.0, 1e30]], dtype=np.float32)
    out = ReLU()(Tensor(x))
    np.testing.assert_array_equal(out.data, np.array([[0.0, 0.0, 0.0], [0.5, 2.0, 1e30]], dtype=np.float32))


@FAST
@given(x=arrays(np.float32, any_shape, elements=finite32))
def test_relu_matches_numpy_and_is_idempotent(x):
    once = ReLU()(Tensor(x))
    np.testing.assert_array_equal(once.data, np.maximum(x.astype(np.float64), 0.0))  # exact: no arithmetic
    twice = ReLU()(once)
    np.testing.assert_array_equal(twice.data, once.data)
    assert np.all(once.data >= 0)


# --------------------------------------------------------------------------- Sigmoid


def test_sigmoid_known_values():
    x = np.array([0.0, 1.0, -1.0, 2.5, -20.0], dtype=np.float32)
    out = Sigmoid()(Tensor(x))
    expected = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    # a float32 exp, add and divide: a few ulps, well inside rtol=1e-6
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=0)
    assert out.data[0] == 0.5


@pytest.mark.parametrize("big", [1000.0, 1e4, float(np.finfo(np.float32).max)])
def test_sigmoid_saturates_exactly_without_overflow(big):
    with strict_float_errors():
        out = Sigmoid()(Tensor([-big, big]))
    assert out.data[0] == 0.0
    assert out.data[1] == 1.0
    assert np.all(np.isfinite(out.data))


@FAST
@given(x=arrays(np.float32, any_shape, elements=wide32))
def test_sigmoid_properties(x):
    with strict_float_errors():
        out = Sigmoid()(Tensor(x)).data
        mirrored = Sigmoid()(Tensor(-x)).data
    assert out.dtype == np.float32
    assert np.all((out >= 0.0) & (out <= 1.0))
    # sigmoid(-x) = 1 - sigmoid(x); both sides are float32 values <= 1, each a few ulps of 1 (6e-8) off
    np.testing.assert_allclose(mirrored, 1.0 - out.astype(np.float64), rtol=0, atol=1e-6)
    # matches an independent float64 formula; atol covers the float32 underflow of sigmoid(x < -87)
    np.testing.assert_allclose(out, sigmoid_ref(x), rtol=1e-6, atol=1e-30)
    # monotone non-decreasing
    order = np.argsort(x, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)


# --------------------------------------------------------------------------- Tanh


@FAST
@given(x=arrays(np.float32, any_shape, elements=finite32))
def test_tanh_matches_numpy_and_is_odd(x):
    out = Tanh()(Tensor(x)).data
    # float32 tanh is accurate to a few ulps: rtol 1e-6; atol for tiny |x| where ulps are tiny anyway
    np.testing.assert_allclose(out, np.tanh(x.astype(np.float64)), rtol=1e-6, atol=1e-30)
    assert np.all((out >= -1.0) & (out <= 1.0))
    np.testing.assert_allclose(Tanh()(Tensor(-x)).data, -out, rtol=1e-6, atol=1e-30)


def test_tanh_known_values():
    x = np.array([0.0, 0.5, -0.5, 3.0, -1000.0, 1000.0], dtype=np.float32)
    with strict_float_errors():
        out = Tanh()(Tensor(x))
    np.testing.assert_allclose(out.data, np.tanh(x.astype(np.float64)), rtol=1e-6, atol=0)
    assert out.data[-2] == -1.0 and out.data[-1] == 1.0


# --------------------------------------------------------------------------- Softmax


def test_softmax_known_values_last_dim_and_dim0():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    # float32 exp/sum/divide over <= 3 terms: errors of a few ulps (< 1e-6 relative)
    np.testing.assert_allclose(Softmax()(Tensor(x)).data, softmax_ref(x, axis=-1), rtol=1e-6, atol=0)
    np.testing.assert_allclose(Softmax(dim=-1)(Tensor(x)).data, softmax_ref(x, axis=1), rtol=1e-6, atol=0)
    by_column = Softmax(dim=0)(Tensor(x)).data
    np.testing.assert_allclose(by_column, softmax_ref(x, axis=0), rtol=1e-6, atol=0)
    np.testing.assert_allclose(by_column.sum(axis=0), np.ones(3), rtol=0, atol=1e-6)
    np.testing.assert_allclose(Softmax()(Tensor(x)).data[1], np.full(3, 1 / 3), rtol=1e-6, atol=0)


def test_softmax_huge_inputs_stay_finite():
    x = np.array([[1000.0, 1001.0, 1002.0], [1e4, -1e4, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=np.float32)
    for dim, axis in ((-1, 1), (0, 0)):
        with strict_float_errors():
            out = Softmax(dim=dim)(Tensor(x)).data
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, softmax_ref(x, axis=axis), rtol=1e-6, atol=1e-30)
    row = Softmax()(Tensor(x)).data
    # shift invariance makes row 0 equal softmax([0, 1, 2])
    np.testing.assert_allclose(row[0], softmax_ref(np.array([0.0, 1.0, 2.0]), axis=0), rtol=1e-6, atol=0)
    np.testing.assert_array_equal(row[1], np.array([1.0, 0.0, 0.0], dtype=np.float32))


@st.composite
def logits_and_dim(draw):
    x = draw(
        arrays(np.float32, array_shapes(min_dims=1, max_dims=3, max_side=6), elements=st.floats(-50, 50, width=32))
    )
    dim = draw(st.sampled_from(list(range(-x.ndim, x.ndim))))
    return x, dim


@FAST
@given(case=logits_and_dim(), shift=st.floats(-50, 50, width=32))
def test_softmax_properties(case, shift):
    x, dim = case
    with strict_float_errors():
        out = Softmax(dim=dim)(Tensor(x)).data
        shifted = Softmax(dim=dim)(Tensor(x + np.float32(shift))).data
    assert out.dtype == np.float32
    assert out.shape == x.shape
    assert np.all((out >= 0) & (out <= 1))
    # rows (along dim) sum to 1: at most 6 float32 terms, each a few ulps off -> 1e-6
    np.testing.assert_allclose(out.astype(np.float64).sum(axis=dim), 1.0, rtol=0, atol=1e-6)
    # values: rounding x - max(x) in float32 (|x - max| <= 100, half-ulp <= 3.8e-6) changes exp() by a
    # relative 3.8e-6, so rtol is 1e-5 rather than 1e-6; atol covers float32 underflow of exp(<-87).
    np.testing.assert_allclose(out, softmax_ref(x, axis=dim), rtol=1e-5, atol=1e-30)
    # shift invariance: x + shift is itself rounded to float32 (|x + shift| <= 100, half-ulp 3.8e-6 per
    # logit, so up to 7.6e-6 between two logits) -> rtol 2e-5; atol again covers underflowed entries.
    np.testing.assert_allclose(shifted, out, rtol=2e-5, atol=1e-30)
