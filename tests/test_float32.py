"""float32 in, float32 out: no integer, boolean, scalar or mask operand turns tinytorch's results into float64.

NumPy alone would promote several of these (int64 @ float32 is float64, and so is float32 * np.float64(2.0));
each case feeds the deck's first layer, Linear(784, 256), or another piece of module 03 one such operand, and
expects a float32 Tensor of the expected shape back, with the values computed independently in NumPy.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from conftest import U32, assert_sum_close
from test_layers import linear_ref

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.tensor import Tensor

BATCH, IN_FEATURES, OUT_FEATURES = 4, 784, 256


@dataclass(frozen=True)
class Operands:
    linear: Linear
    xa: np.ndarray  # float32 inputs
    ints: np.ndarray  # int64 inputs in -3..3
    bools: np.ndarray  # a mask

    @property
    def x(self) -> Tensor:
        return Tensor(self.xa)


@pytest.fixture
def f() -> Operands:
    np.random.seed(0)
    linear = Linear(IN_FEATURES, OUT_FEATURES)
    linear.bias.data = np.random.uniform(-1, 1, OUT_FEATURES).astype(np.float32)  # non-zero: a lost bias shows
    xa = np.random.default_rng(1).standard_normal((BATCH, IN_FEATURES), dtype=np.float32)
    ints = np.arange(BATCH * IN_FEATURES).reshape(BATCH, IN_FEATURES) % 7 - 3
    return Operands(linear, xa, ints, ints > 0)


@pytest.mark.parametrize(("name", "shape"), [("weight", (IN_FEATURES, OUT_FEATURES)), ("bias", (OUT_FEATURES,))])
def test_linear_parameters_are_float32(f, name, shape):
    parameter = getattr(f.linear, name)
    assert isinstance(parameter, Tensor) and parameter.dtype == np.float32 and parameter.shape == shape


# What Linear receives -> the values it stands for, as NumPy computes them (in float32 where NumPy keeps float32).
LINEAR_INPUTS = {
    "float32 Tensor": (lambda f: f.x, lambda f: f.xa),
    "Tensor(int64 ndarray)": (lambda f: Tensor(f.ints), lambda f: f.ints),
    "Tensor(int64 ndarray, dtype=np.int64)": (lambda f: Tensor(f.ints, dtype=np.int64), lambda f: f.ints),
    "Tensor(bool ndarray)": (lambda f: Tensor(f.bools), lambda f: f.bools),
    "Tensor(bool ndarray, dtype=bool)": (lambda f: Tensor(f.bools, dtype=bool), lambda f: f.bools),
    "Tensor(nested Python int list)": (lambda f: Tensor(f.ints.tolist()), lambda f: f.ints),
    "x * 2.0": (lambda f: f.x * 2.0, lambda f: f.xa * np.float32(2)),
    "2.0 * x": (lambda f: 2.0 * f.x, lambda f: f.xa * np.float32(2)),
    "x * 3": (lambda f: f.x * 3, lambda f: f.xa * np.float32(3)),
    "x / 3.0": (lambda f: f.x / 3.0, lambda f: f.xa / np.float32(3)),
    "1.0 - x": (lambda f: 1.0 - f.x, lambda f: np.float32(1) - f.xa),
    "-x": (lambda f: -f.x, lambda f: -f.xa),
    "x * np.float64(2.0)": (lambda f: f.x * np.float64(2.0), lambda f: f.xa * np.float32(2)),
}


@pytest.mark.parametrize("given", list(LINEAR_INPUTS))
def test_linear_returns_float32_whatever_it_is_given(f, given):
    make_input, values = LINEAR_INPUTS[given]
    out = f.linear(make_input(f))
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == (BATCH, OUT_FEATURES)
    expected, abs_sum = linear_ref(values(f), f.linear)
    assert_sum_close(out.data, expected, abs_sum, n_terms=IN_FEATURES)


# Results whose values are exact in float32 -> those values.
EXACT = {
    "Tensor(int64 ndarray)": (lambda f: Tensor(f.ints), lambda f: f.ints),
    "x * 2.0": (lambda f: f.x * 2.0, lambda f: 2 * f.xa),
    "ReLU()(x)": (lambda f: ReLU()(f.x), lambda f: np.maximum(f.xa, 0)),
    "Dropout(0.5) in eval mode": (lambda f: Dropout(0.5).eval()(f.x), lambda f: f.xa),
}


@pytest.mark.parametrize("case", list(EXACT))
def test_exact_results_are_float32(f, case):
    make, values = EXACT[case]
    out = make(f)
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, values(f))


# Dropout drawing a mask: (p, how it is asked to train).
DROPPING = {
    "Dropout(0.5) in train mode": (0.5, lambda d, x: d.train()(x)),
    "Dropout(0.3) in train mode": (0.3, lambda d, x: d.train()(x)),
    "Dropout(1.0) in train mode": (1.0, lambda d, x: d.train()(x)),
    "Dropout(0.5)(x, training=True) in eval mode": (0.5, lambda d, x: d.eval()(x, training=True)),
}


@pytest.mark.parametrize("case", list(DROPPING))
def test_dropout_mask_keeps_float32(f, case):
    p, run = DROPPING[case]
    out = run(Dropout(p), f.x)
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == f.xa.shape
    if p == 1.0:
        np.testing.assert_array_equal(out.data, np.zeros_like(f.xa))
        return
    kept = out.data != 0
    assert 0 < kept.mean() < 1  # 3136 elements: all kept or all dropped has probability below 0.7**3136
    # survivors are x / (1 - p) in float32: (1 - p) rounded to float32, then the quotient rounded (2.01: the
    # second-order term of two roundings)
    np.testing.assert_allclose(out.data[kept], f.xa[kept].astype(np.float64) / (1 - p), rtol=2.01 * U32, atol=0)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_mlp_returns_float32_in_both_modes(f, mode):
    np.random.seed(0)
    mlp = Sequential(Linear(IN_FEATURES, 256), ReLU(), Dropout(0.5), Linear(256, 10))
    out = getattr(mlp, mode)()(f.x)
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == (BATCH, 10)
    assert np.all(np.isfinite(out.data))
