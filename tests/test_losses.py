"""Package tests for tinytorch.core.losses (MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss).

Expected values are computed here with plain NumPy in float64 from the float32 inputs. Tolerances are stated in
units of U32, float32's unit roundoff, with the reasoning next to each.
"""

import numpy as np
import pytest
from conftest import FAST, U32, strict_float_errors
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from tinytorch.core.activations import Module, ReLU, Sigmoid
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

LOSSES = {"MSELoss": MSELoss, "CrossEntropyLoss": CrossEntropyLoss, "BinaryCrossEntropyLoss": BinaryCrossEntropyLoss}
EPS = BinaryCrossEntropyLoss.eps
# Magnitudes 0 or >= 2**-10: two different values then differ by at least 2**-33, whose square is a normal float32,
# so "MSE is 0 only for equal inputs" is a property of the loss, not of underflow.
separated32 = st.one_of(st.just(0.0), st.floats(2.0**-10, 1e3, width=32), st.floats(-1e3, -(2.0**-10), width=32))


def cross_entropy_ref(logits, targets):
    """float64 mean of logsumexp(z) - z[target], with NumPy's own logaddexp (no overflow for any float32 input)."""
    z = np.asarray(logits, dtype=np.float64)
    return np.mean(np.logaddexp.reduce(z, axis=1) - z[np.arange(len(z)), targets])


def minus_log_softmax_at_target(logits, targets):
    """float64 -log(softmax(z)[target]) literally, for logits whose rows span less than ~700 (no float64 underflow)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.mean(-np.log((e / e.sum(axis=1, keepdims=True))[np.arange(len(z)), targets]))


def bce_ref(p, y):
    """float64 binary cross-entropy of probabilities clipped like the loss's, log1p for log(1 - p)."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))


def value(loss, *args) -> float:
    """The loss as a Python float, after checking it is a 0-d float32 Tensor."""
    out = loss(*args)
    assert isinstance(out, Tensor)
    assert out.shape == ()
    assert out.dtype == np.float32
    return float(out.data)


def raised(exception, fn, *args) -> str:
    with pytest.raises(exception) as info:
        fn(*args)
    return str(info.value)


moderate32 = st.floats(-50, 50, width=32)  # rows span at most 100: the literal softmax is safe in float64
wide32 = st.floats(-1e4, 1e4, width=32)  # deep in exp()'s float32 overflow range


@st.composite
def logits_and_targets(draw, elements=moderate32):
    n, c = draw(st.integers(1, 8)), draw(st.integers(1, 12))
    logits = draw(arrays(np.float32, (n, c), elements=elements))
    targets = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return logits, targets


def cross_entropy_tolerance(logits, loss64):
    """Absolute float32 error bound of the loss. Shifting by the row maximum rounds each difference z - max by at
    most U32 * spread; exp, sum and log add a few roundings relative to the log-sum (<= |loss| + log C + 1); the mean
    over N rows a relative U32 * log2(N). Measured errors stay below 1.4 U32 * (1 + spread + |loss|); 8 leaves room
    for other summation orders."""
    spread = float(np.max(logits.astype(np.float64).max(axis=1) - logits.min(axis=1)))
    return 8 * U32 * (1 + spread + abs(loss64))


# --------------------------------------------------------------------------- the Module contract


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_is_a_module_without_parameters(name):
    loss = LOSSES[name]()
    assert isinstance(loss, Module)
    assert loss.parameters() == []
    assert loss.training is True
    assert repr(loss) == f"{name}()"
    assert loss.eval() is loss and loss.training is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_loss_returns_a_0d_float32_tensor_and_leaves_its_inputs_alone(dtype):
    rng = np.random.default_rng(0)
    pred = rng.uniform(0.05, 0.95, size=(6, 4))
    target = rng.uniform(0.0, 1.0, size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    before = pred.copy(), target.copy(), labels.copy()
    value(MSELoss(), Tensor(pred, dtype=dtype), target)
    value(BinaryCrossEntropyLoss(), Tensor(pred, dtype=dtype), target)
    value(CrossEntropyLoss(), Tensor(pred, dtype=dtype), labels)
    for original, now in zip(before, (pred, target, labels), strict=True):
        np.testing.assert_array_equal(now, original)


def test_losses_compose_with_a_model():
    np.random.seed(0)
    model = Sequential(Linear(5, 8), ReLU(), Linear(8, 3))
    x = np.random.rand(4, 5).astype(np.float32)
    labels = np.array([0, 2, 1, 2])
    logits = model(Tensor(x))
    ce = value(CrossEntropyLoss(), logits, labels)
    expected = cross_entropy_ref(logits.data, labels)
    assert abs(ce - expected) <= cross_entropy_tolerance(logits.data, expected)
    probs = Sequential(Linear(5, 1), Sigmoid())(Tensor(x))
    bce = value(BinaryCrossEntropyLoss(), probs, np.array([[1.0], [0.0], [1.0], [0.0]]))
    assert np.isfinite(bce) and bce > 0


# --------------------------------------------------------------------------- MSELoss


def test_mse_known_value_and_target_forms():
    pred = Tensor([1.0, 2.0, 3.0])
    for target in ([1.0, 0.0, 5.0], np.array([1, 0, 5]), Tensor([1.0, 0.0, 5.0]), Tensor([1, 0, 5], dtype=np.int64)):
        # 8/3 is one rounding away from its float32 value
        np.testing.assert_allclose(value(MSELoss(), pred, target), 8.0 / 3.0, rtol=U32, atol=0)


@FAST
@given(data=st.data(), shape=array_shapes(min_dims=1, max_dims=3, max_side=5))
def test_mse_properties(data, shape):
    pred = data.draw(arrays(np.float32, shape, elements=separated32))
    target = data.draw(arrays(np.float32, shape, elements=separated32))
    mse = value(MSELoss(), Tensor(pred), target)
    assert mse >= 0
    assert value(MSELoss(), Tensor(pred), pred) == 0.0
    assert (mse == 0) == np.array_equal(pred, target)
    # n non-negative terms, each a float32 difference and square (2 roundings), then a float32 sum and a division:
    # relative error at most (n + 3) U32 in any summation order (Higham, eq. 3.5).
    expected = np.mean((pred.astype(np.float64) - target) ** 2)
    np.testing.assert_allclose(mse, expected, rtol=(pred.size + 3) * U32, atol=0)


@pytest.mark.parametrize(
    ("pred_shape", "target_shape"), [((4, 1), (4,)), ((4,), (4, 1)), ((3,), (4,)), ((2, 3), (3, 2))]
)
@pytest.mark.parametrize("loss", [MSELoss, BinaryCrossEntropyLoss])
def test_elementwise_losses_refuse_to_broadcast_and_name_both_shapes(loss, pred_shape, target_shape):
    message = raised(ValueError, loss(), Tensor(np.full(pred_shape, 0.5)), np.full(target_shape, 0.5))
    assert str(pred_shape) in message and str(target_shape) in message


@pytest.mark.parametrize("loss", list(LOSSES.values()))
def test_prediction_must_be_a_tensor(loss):
    message = raised(TypeError, loss(), np.full((2, 2), 0.5), np.array([0, 1]))
    assert "ndarray" in message and "Tensor" in message


# --------------------------------------------------------------------------- CrossEntropyLoss


@FAST
@given(case=logits_and_targets())
def test_cross_entropy_is_minus_log_softmax_at_the_target(case):
    logits, targets = case
    ce = value(CrossEntropyLoss(), Tensor(logits), targets)
    expected = minus_log_softmax_at_target(logits, targets)
    assert ce >= 0  # exactly: the shifted sum is >= 1 and the target's shifted logit <= 0
    assert abs(ce - expected) <= cross_entropy_tolerance(logits, expected)


@FAST
@given(case=logits_and_targets(), shifts=st.lists(st.floats(-50, 50, width=32), min_size=8, max_size=8))
def test_cross_entropy_ignores_a_constant_added_to_each_row(case, shifts):
    logits, targets = case
    shifted = logits + np.array(shifts[: len(logits)], dtype=np.float32)[:, None]
    base = value(CrossEntropyLoss(), Tensor(logits), targets)
    moved = value(CrossEntropyLoss(), Tensor(shifted), targets)
    # logsumexp and z_t each move by at most the largest rounding of x + c (U32 * |x + c| <= U32 * 100), so the loss
    # by at most twice that; plus the evaluation error of both losses.
    rounding = 2 * U32 * float(np.abs(shifted).max())
    exact = cross_entropy_ref(logits, targets)
    bound = rounding + cross_entropy_tolerance(logits, exact) + cross_entropy_tolerance(shifted, exact)
    assert abs(moved - base) <= bound


@FAST
@given(case=logits_and_targets(elements=wide32))
def test_cross_entropy_is_finite_and_accurate_for_logits_up_to_1e4(case):
    logits, targets = case
    with strict_float_errors():
        ce = value(CrossEntropyLoss(), Tensor(logits), targets)
    expected = cross_entropy_ref(logits, targets)
    assert np.isfinite(ce)
    assert abs(ce - expected) <= cross_entropy_tolerance(logits, expected)


def test_cross_entropy_of_plus_minus_1e4_is_exact():
    with strict_float_errors():
        ce = value(CrossEntropyLoss(), Tensor([[1e4, -1e4], [-1e4, 1e4], [0.0, 1e4]]), np.array([0, 0, 1]))
    assert ce == pytest.approx(2e4 / 3, rel=U32)


@pytest.mark.parametrize("classes", [1, 2, 10, 1000])
def test_cross_entropy_of_equal_logits_is_log_c(classes):
    ce = value(CrossEntropyLoss(), Tensor(np.full((3, classes), 7.0)), np.zeros(3, dtype=int))
    # log of a float32 sum of `classes` ones, which is exact: one rounding of the log
    np.testing.assert_allclose(ce, np.log(classes), rtol=2 * U32, atol=0)


@pytest.mark.parametrize(
    "targets",
    [
        np.array([2, 0, 1]),
        np.array([2, 0, 1], dtype=np.uint8),
        np.array([2.0, 0.0, 1.0]),
        [2, 0, 1],
        Tensor([2, 0, 1]),
        Tensor([2, 0, 1], dtype=np.int64),
    ],
    ids=["int64", "uint8", "float64", "list", "float32-tensor", "int64-tensor"],
)
def test_cross_entropy_targets_in_every_form_mean_the_same_classes(targets):
    logits = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, 0.0], [0.0, 1.0, -2.0]], dtype=np.float32)
    indices = CrossEntropyLoss.class_indices(targets, logits.shape)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, [2, 0, 1])
    expected = cross_entropy_ref(logits, [2, 0, 1])
    assert abs(value(CrossEntropyLoss(), Tensor(logits), targets) - expected) <= cross_entropy_tolerance(
        logits, expected
    )


@pytest.mark.parametrize("bad", [-1, 10, 12, 10**9])
@pytest.mark.parametrize("make", [np.array, Tensor], ids=["int-array", "float32-tensor"])
def test_cross_entropy_target_out_of_range_names_the_index_and_c(bad, make):
    if make is Tensor and bad == 10**9:
        bad = 2**30  # exactly representable in float32
    message = raised(ValueError, CrossEntropyLoss(), Tensor(np.zeros((4, 10))), make([0, 3, bad, 9]))
    assert str(bad) in message and f"{bad}.0" not in message
    assert "10 classes" in message


@pytest.mark.parametrize(
    ("targets", "shown"),
    [(Tensor([0, 1.5, 2, 3]), "1.5"), (np.array([0.0, np.nan, 1, 2]), "nan"), (Tensor([0, 1, 2, np.inf]), "inf")],
)
def test_cross_entropy_rejects_targets_that_are_not_whole_numbers(targets, shown):
    message = raised(ValueError, CrossEntropyLoss(), Tensor(np.zeros((4, 5))), targets)
    assert shown in message


def test_cross_entropy_rejects_boolean_targets_naming_the_dtype():
    message = raised(TypeError, CrossEntropyLoss(), Tensor(np.zeros((2, 3))), np.array([True, False]))
    assert "bool" in message


@pytest.mark.parametrize("target_shape", [(3,), (5,), (4, 1), ()])
def test_cross_entropy_batch_mismatch_names_both_shapes(target_shape):
    message = raised(ValueError, CrossEntropyLoss(), Tensor(np.zeros((4, 10))), np.zeros(target_shape, dtype=int))
    assert "(4, 10)" in message and str(target_shape) in message


@pytest.mark.parametrize("shape", [(10,), (2, 3, 4)])
def test_cross_entropy_wants_2d_logits_and_names_their_shape(shape):
    message = raised(ValueError, CrossEntropyLoss(), Tensor(np.zeros(shape)), np.array([0, 1]))
    assert str(shape) in message and "(N, C)" in message


@FAST
@given(x=arrays(np.float32, array_shapes(min_dims=1, max_dims=3, max_side=6), elements=wide32))
def test_log_softmax_is_a_normalized_float32_log_distribution(x):
    with strict_float_errors():
        out = CrossEntropyLoss.log_softmax(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.all(out <= 0)
    x64 = x.astype(np.float64)
    reference = x64 - np.logaddexp.reduce(x64, axis=-1, keepdims=True)
    spread = (x64.max(axis=-1, keepdims=True) - x64.min(axis=-1, keepdims=True)) + 1
    # each entry: the shifted logit's rounding (U32 * spread) plus the log-sum's few roundings (small multiple of U32)
    assert np.all(np.abs(out - reference) <= 8 * U32 * (spread + np.abs(reference)))


# --------------------------------------------------------------------------- BinaryCrossEntropyLoss


def test_bce_epsilon_is_float32_machine_epsilon_and_clips_both_ends_alike():
    assert EPS == 2.0**-23
    assert np.float32(1 - EPS) < 1  # 1 - eps is an exact float32 below 1, so log(1 - p) is never log(0)
    assert 1 - np.float64(np.float32(1 - EPS)) == EPS


@pytest.mark.parametrize(("p", "y"), [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)])
def test_bce_is_finite_at_probabilities_0_and_1(p, y):
    with strict_float_errors():
        loss = value(BinaryCrossEntropyLoss(), Tensor([p]), [y])
    correct = p == y
    # a float32 log of an exact float32 argument: one rounding
    expected = -np.log1p(-EPS) if correct else -np.log(EPS)
    np.testing.assert_allclose(loss, expected, rtol=2 * U32, atol=0)


def test_bce_treats_probabilities_beyond_epsilon_like_epsilon():
    loss = BinaryCrossEntropyLoss()
    at_eps = value(loss, Tensor([EPS, 1 - EPS]), [1.0, 0.0])
    assert value(loss, Tensor([0.0, 1.0]), [1.0, 0.0]) == at_eps
    assert value(loss, Tensor([1e-30, 1.0]), [1.0, 0.0]) == at_eps


@FAST
@given(data=st.data(), shape=array_shapes(min_dims=1, max_dims=3, max_side=5))
def test_bce_properties(data, shape):
    p = data.draw(arrays(np.float32, shape, elements=st.floats(0.0, 1.0, width=32)))
    y = data.draw(arrays(np.float32, shape, elements=st.floats(0.0, 1.0, width=32)))
    with strict_float_errors():
        loss = value(BinaryCrossEntropyLoss(), Tensor(p), y)
    assert loss >= 0
    # per term: log p and log(1 - p) rounded once each (1 - p itself exact or one rounding) and multiplied by y,
    # so U32 * (1 + |log p| + |log(1 - p)|) a few times over; |log| <= -log(eps) = 15.9 after the clip.
    np.testing.assert_allclose(loss, bce_ref(p, y), rtol=0, atol=8 * U32 * (1 + 2 * -np.log(EPS)))


@pytest.mark.parametrize(("probs", "target", "shown"), [([0.5, 1.5], [0.0, 1.0], "1.5"), ([0.5, 0.5], [0.0, 2.0], "2")])
def test_bce_rejects_values_outside_0_1(probs, target, shown):
    message = raised(ValueError, BinaryCrossEntropyLoss(), Tensor(probs), target)
    assert shown in message and "[0, 1]" in message


def test_bce_hints_at_sigmoid_when_given_logits():
    message = raised(ValueError, BinaryCrossEntropyLoss(), Tensor([-3.0, 4.0]), [0.0, 1.0])
    assert "Sigmoid" in message
