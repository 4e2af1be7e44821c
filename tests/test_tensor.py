"""Package tests for tinytorch.core.tensor.

Every expected value is computed here with plain NumPy, usually in float64 from the very float32
inputs the Tensor holds, so the reference is (nearly) exact and the tolerance only has to cover
float32 rounding inside tinytorch.
"""

import operator
import re

import numpy as np
import pytest
from conftest import FAST, UNDERFLOW_ATOL, assert_sum_close, finite32
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, mutually_broadcastable_shapes

from tinytorch.core.tensor import Tensor

# Divisors bounded away from zero so that division never overflows or divides by zero.
nonzero32 = st.one_of(st.floats(-1e3, -0.5, width=32), st.floats(0.5, 1e3, width=32))

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


# --------------------------------------------------------------------------- construction and dtype


@pytest.mark.parametrize(
    "data",
    [
        [[1, 2, 3], [4, 5, 6]],
        np.arange(6, dtype=np.int64).reshape(2, 3),
        np.array([True, False, True]),
        [True, False],
        np.linspace(-1, 1, 7),  # float64 array
        [0.1, 0.2],  # Python floats
        np.arange(4, dtype=np.float16),
    ],
    ids=["int-list", "int64-array", "bool-array", "bool-list", "float64-array", "float-list", "float16-array"],
)
def test_default_dtype_is_float32_and_values_are_converted(data):
    expected = np.asarray(data).astype(np.float32)
    t = Tensor(data)
    assert t.dtype == np.float32
    assert t.data.dtype == np.float32
    assert isinstance(t.data, np.ndarray)
    assert t.shape == expected.shape
    np.testing.assert_array_equal(t.data, expected)


@pytest.mark.parametrize("value", [3, 2.5, True, -7, np.float64(1.25), np.int64(9)])
def test_python_and_numpy_scalars_become_0d_float32(value):
    t = Tensor(value)
    assert t.shape == ()
    assert t.ndim == 0
    assert t.size == 1
    assert t.dtype == np.float32
    assert float(t.data) == float(value)  # all chosen values are exact in float32


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int64, np.float16, np.bool_])
def test_explicit_dtype_is_respected(dtype):
    data = [[0, 1, 2], [3, 4, 5]]
    t = Tensor(data, dtype=dtype)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.data, np.array(data, dtype=dtype))


def test_tensor_from_tensor_copies_values_shape_and_converts_dtype():
    source = Tensor(np.arange(6).reshape(2, 3))
    t = Tensor(source)
    assert isinstance(t.data, np.ndarray)  # unwrapped, not an object array holding a Tensor
    assert t.shape == (2, 3)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.arange(6, dtype=np.float32).reshape(2, 3))

    ints = Tensor([1, 2, 3], dtype=np.int64)
    assert Tensor(ints).dtype == np.float32  # default dtype applies to Tensor input too
    as64 = Tensor(source, dtype=np.float64)
    assert as64.dtype == np.float64
    np.testing.assert_array_equal(as64.data, np.arange(6, dtype=np.float64).reshape(2, 3))


def test_shape_dtype_size_ndim_follow_data_reassignment():
    t = Tensor(np.zeros((2, 3)))
    assert (t.shape, t.dtype, t.size, t.ndim) == ((2, 3), np.float32, 6, 2)
    t.data = np.ones((4, 5, 6), dtype=np.float64)
    assert t.shape == (4, 5, 6)
    assert t.dtype == np.float64
    assert t.size == 120
    assert t.ndim == 3
    t.data = np.array(7, dtype=np.int16)
    assert (t.shape, t.dtype, t.size, t.ndim) == ((), np.int16, 1, 0)


def test_numpy_returns_the_shared_array():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]])
    arr = t.numpy()
    assert isinstance(arr, np.ndarray)
    assert arr is t.data
    arr[0, 1] = 42.0
    np.testing.assert_array_equal(t.data, np.array([[1.0, 42.0], [3.0, 4.0]], dtype=np.float32))


def test_repr_mentions_values_shape_and_dtype():
    r = repr(Tensor([[1, 2, 3], [4, 5, 6]]))
    assert r.startswith("Tensor(")
    assert "shape=(2, 3)" in r
    assert "dtype=float32" in r
    assert "6." in r  # the values are shown
    r_int = repr(Tensor([1, 2], dtype=np.int64))
    assert "shape=(2,)" in r_int and "dtype=int64" in r_int


# --------------------------------------------------------------------------- element-wise arithmetic


@st.composite
def arithmetic_case(draw, op, kind, tensor_on_left):
    """(left, right) operands as NumPy float32 arrays or Python numbers, all exact in float32.

    The right operand is the divisor for '/', so it is drawn bounded away from zero.
    """
    right_elements = nonzero32 if op == "/" else finite32
    if kind in ("float", "int"):
        # One side is a Python scalar, the other a float32 array of any shape.
        shape = draw(array_shapes(min_dims=0, max_dims=3, max_side=4))
        if kind == "float":
            scalar_elements = right_elements if tensor_on_left else finite32
        else:
            scalar_elements = st.integers(1, 100) | st.integers(-100, -1)
            if not (tensor_on_left and op == "/"):
                scalar_elements = scalar_elements | st.just(0)
        scalar = draw(scalar_elements)
        array = draw(arrays(np.float32, shape, elements=finite32 if tensor_on_left else right_elements))
        return (array, scalar) if tensor_on_left else (scalar, array)
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)).input_shapes
    left = draw(arrays(np.float32, shapes[0], elements=finite32))
    right = draw(arrays(np.float32, shapes[1], elements=right_elements))
    return left, right


def _wrap(value, kind):
    """The non-Tensor operand in the form under test."""
    if kind == "tensor":
        return Tensor(value)
    if kind == "ndarray32":
        return value.astype(np.float32)
    if kind == "ndarray64":
        return value.astype(np.float64)  # float64 operand, exactly equal to the float32 values
    return value  # Python float or int


KINDS = ["tensor", "ndarray32", "ndarray64", "float", "int"]


def _check_arithmetic(op, kind, tensor_on_left, left, right):
    if tensor_on_left:
        result = OPS[op](Tensor(left), _wrap(right, kind))
    else:
        result = OPS[op](_wrap(left, kind), Tensor(right))
    expected = OPS[op](np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64))

    assert isinstance(result, Tensor)
    assert result.dtype == np.float32, f"{kind} operand produced {result.dtype}"
    assert result.shape == expected.shape
    # All inputs are exact float32 values, so each float32 result is the exact value rounded once
    # (division: rounded twice at most) -> relative error <= 2*2^-24 < 1e-6.
    np.testing.assert_allclose(result.data, expected, rtol=1e-6, atol=UNDERFLOW_ATOL)


@pytest.mark.parametrize("tensor_on_left", [True, False], ids=["tensor-op-other", "other-op-tensor"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("op", list(OPS))
def test_arithmetic_every_operand_kind_on_both_sides(op, kind, tensor_on_left):
    """Deterministic coverage of every (operator, operand kind, side) combination, with broadcasting."""
    rng = np.random.default_rng(1234)
    left = rng.uniform(-10, 10, size=(2, 1, 3)).astype(np.float32)
    right = rng.uniform(0.5, 10, size=(4, 3)).astype(np.float32) * rng.choice([-1, 1], size=(4, 3))
    if kind == "float":
        left, right = (left, -2.75) if tensor_on_left else (-2.75, right)
    elif kind == "int":
        left, right = (left, 3) if tensor_on_left else (3, right)
    _check_arithmetic(op, kind, tensor_on_left, left, right)


@pytest.mark.parametrize("op", list(OPS))
@FAST
@given(kind=st.sampled_from(KINDS), tensor_on_left=st.booleans(), data=st.data())
def test_arithmetic_matches_numpy_property(op, kind, tensor_on_left, data):
    """Any broadcastable shapes, any operand kind on either side: equals NumPy and stays float32."""
    left, right = data.draw(arithmetic_case(op, kind, tensor_on_left))
    _check_arithmetic(op, kind, tensor_on_left, left, right)


@pytest.mark.parametrize("op", list(OPS))
def test_ndarray_on_the_left_returns_a_tensor(op):
    arr = np.array([[1.0, 2.0, 4.0]])  # float64, shape (1, 3)
    t = Tensor([[2.0], [8.0]])  # shape (2, 1)
    result = OPS[op](arr, t)
    assert type(result) is Tensor, f"np.ndarray {op} Tensor returned {type(result).__name__}"
    assert result.dtype == np.float32
    expected = OPS[op](arr, np.array([[2.0], [8.0]]))
    np.testing.assert_allclose(result.data, expected, rtol=1e-6, atol=0)


def test_no_float64_creep_with_python_float_and_numpy_float64_scalars():
    t = Tensor([1.0, 2.0, 3.0])
    for result in (t * 0.1, 0.1 * t, t + np.float64(0.5), np.float64(0.5) * t, t / 3.0, 1.0 - t, 2.0 / t):
        assert isinstance(result, Tensor)
        assert result.dtype == np.float32
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose((t * 0.1).data, x * 0.1, rtol=1e-6, atol=0)
    np.testing.assert_allclose((2.0 / t).data, 2.0 / x, rtol=1e-6, atol=0)
    np.testing.assert_allclose((1.0 - t).data, 1.0 - x, rtol=1e-6, atol=0)


def test_arithmetic_on_explicit_float64_tensors_returns_float32():
    a = Tensor([1.5, 2.5], dtype=np.float64)
    b = Tensor([0.5, 4.0], dtype=np.float64)
    for op in OPS.values():
        assert op(a, b).dtype == np.float32
    np.testing.assert_array_equal((a * b).data, np.array([0.75, 10.0], dtype=np.float32))


def test_negation():
    t = Tensor([[1.0, -2.0], [0.0, 3.5]])
    result = -t
    assert isinstance(result, Tensor)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.data, np.array([[-1.0, 2.0], [0.0, -3.5]], dtype=np.float32))


def test_arithmetic_does_not_modify_operands():
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    _ = a + b, a - b, a * b, a / b
    np.testing.assert_array_equal(a.data, np.array([1.0, 2.0], dtype=np.float32))
    np.testing.assert_array_equal(b.data, np.array([3.0, 4.0], dtype=np.float32))


def test_broadcasting_incompatible_shapes_raise():
    with pytest.raises(ValueError, match="broadcast"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones((4,)))


# --------------------------------------------------------------------------- matmul


MATMUL_CASES = {
    # name: (shape_a, shape_b) built from dims b, n, k, m
    "2d": lambda b, n, k, m: ((n, k), (k, m)),
    "batched-3d-by-2d": lambda b, n, k, m: ((b, n, k), (k, m)),
    "batched-3d-by-3d": lambda b, n, k, m: ((b, n, k), (b, k, m)),
    "vector-by-matrix": lambda b, n, k, m: ((k,), (k, m)),
    "matrix-by-vector": lambda b, n, k, m: ((n, k), (k,)),
    "vector-by-vector": lambda b, n, k, m: ((k,), (k,)),
}


@pytest.mark.parametrize("case", list(MATMUL_CASES))
@FAST
@given(dims=st.tuples(*[st.integers(1, 5)] * 4), data=st.data())
def test_matmul_matches_numpy(case, dims, data):
    shape_a, shape_b = MATMUL_CASES[case](*dims)
    a = data.draw(arrays(np.float32, shape_a, elements=finite32))
    b = data.draw(arrays(np.float32, shape_b, elements=finite32))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    expected = np.matmul(a64, b64)
    abs_sum = np.matmul(np.abs(a64), np.abs(b64))
    k = shape_a[-1]
    for result in (Tensor(a).matmul(Tensor(b)), Tensor(a) @ Tensor(b)):
        assert isinstance(result, Tensor)
        assert result.dtype == np.float32
        assert result.shape == expected.shape
        assert_sum_close(result.data, expected, abs_sum, n_terms=k)


def test_matmul_with_ndarray_operands_on_either_side():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    b = np.arange(12, dtype=np.float64).reshape(3, 4) - 5
    expected = a @ b  # small integers: exact in float32
    for result in (Tensor(a) @ b, a @ Tensor(b), Tensor(a).matmul(b)):
        assert type(result) is Tensor
        assert result.dtype == np.float32
        np.testing.assert_array_equal(result.data, expected.astype(np.float32))


def test_matmul_of_integer_tensors_is_float32():
    a = Tensor([[1, 2], [3, 4]], dtype=np.int64)
    b = Tensor([[5], [6]], dtype=np.int64)
    result = a @ b
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.data, np.array([[17.0], [39.0]], dtype=np.float32))


def test_matmul_error_message_names_both_shapes_and_inner_dimensions():
    a, b = Tensor(np.zeros((32, 128))), Tensor(np.zeros((256, 10)))
    message = "cannot matmul (32, 128) @ (256, 10): inner dimensions 128 and 256 differ"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        a @ b
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        a.matmul(b)


@pytest.mark.parametrize(
    ("shape_a", "shape_b", "inner"),
    [((3,), (4,), (3, 4)), ((2, 3), (4,), (3, 4)), ((3,), (4, 2), (3, 4)), ((5, 2, 3), (4, 6), (3, 4))],
)
def test_matmul_inner_mismatch_with_vectors_and_batches(shape_a, shape_b, inner):
    message = f"cannot matmul {shape_a} @ {shape_b}: inner dimensions {inner[0]} and {inner[1]} differ"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        Tensor(np.zeros(shape_a)) @ Tensor(np.zeros(shape_b))


def test_matmul_batch_mismatch_names_both_shapes_and_batch_dimensions():
    message = "cannot matmul (2, 3, 4) @ (5, 4, 6): batch dimensions (2,) and (5,) do not broadcast"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        Tensor(np.zeros((2, 3, 4))) @ Tensor(np.zeros((5, 4, 6)))


def test_matmul_rejects_0d_operands():
    with pytest.raises(
        ValueError, match=re.escape("cannot matmul () @ (2,): both operands need at least one dimension")
    ):
        Tensor(2.0) @ Tensor([1.0, 2.0])


# --------------------------------------------------------------------------- reductions


@st.composite
def array_axis_keepdims(draw):
    array = draw(arrays(np.float32, array_shapes(min_dims=0, max_dims=3, max_side=5), elements=finite32))
    axes = [None] + list(range(-array.ndim, array.ndim))
    if array.ndim >= 2:
        axes.append((0, array.ndim - 1))
    return array, draw(st.sampled_from(axes)), draw(st.booleans())


def _reduced_count(array, axis):
    if axis is None:
        return array.size
    axis = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([array.shape[a] for a in axis]))


# mean is a sum followed by one division by n: one more rounding step
@pytest.mark.parametrize(("reduction", "extra_roundings"), [("sum", 0), ("mean", 1)])
@FAST
@given(case=array_axis_keepdims())
def test_reductions_match_numpy(reduction, extra_roundings, case):
    array, axis, keepdims = case
    a64 = array.astype(np.float64)
    expected = getattr(a64, reduction)(axis=axis, keepdims=keepdims)
    result = getattr(Tensor(array), reduction)(axis=axis, keepdims=keepdims)
    assert isinstance(result, Tensor)
    assert result.dtype == np.float32
    assert result.shape == expected.shape
    abs_reduced = getattr(np.abs(a64), reduction)(axis=axis, keepdims=keepdims)
    assert_sum_close(result.data, expected, abs_reduced, n_terms=_reduced_count(array, axis) + extra_roundings)


def test_sum_and_mean_small_example_with_keepdims():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    assert t.sum().shape == ()
    assert float(t.sum().data) == 21.0
    np.testing.assert_array_equal(t.sum(axis=0).data, np.array([5, 7, 9], dtype=np.float32))
    np.testing.assert_array_equal(t.sum(axis=1, keepdims=True).data, np.array([[6], [15]], dtype=np.float32))
    assert t.sum(axis=1, keepdims=True).shape == (2, 1)
    np.testing.assert_array_equal(t.mean(axis=-1).data, np.array([2, 5], dtype=np.float32))
    assert t.mean(axis=0, keepdims=True).shape == (1, 3)
    np.testing.assert_allclose(t.mean().data, 3.5, rtol=1e-6, atol=0)
    int_tensor = Tensor([[1, 2], [3, 5]], dtype=np.int64)
    assert int_tensor.mean().dtype == np.float32
    assert int_tensor.sum(axis=0).dtype == np.float32
    np.testing.assert_allclose(int_tensor.mean().data, 2.75, rtol=1e-6, atol=0)


# --------------------------------------------------------------------------- reshape / transpose


@pytest.mark.parametrize(
    ("args", "shape"),
    [
        (((3, 4),), (3, 4)),
        ((3, 4), (3, 4)),
        (([4, 3],), (4, 3)),
        ((2, -1), (2, 6)),
        (((-1, 2, 3),), (2, 2, 3)),
        ((12,), (12,)),
        ((-1,), (12,)),
    ],
    ids=["tuple", "varargs", "list", "varargs-minus-one", "tuple-minus-one", "flat", "flat-minus-one"],
)
def test_reshape_forms(args, shape):
    source = np.arange(12, dtype=np.float32).reshape(2, 6)
    result = Tensor(source).reshape(*args)
    assert isinstance(result, Tensor)
    assert result.shape == shape
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.data, np.reshape(source, shape))


@pytest.mark.parametrize(
    ("args", "shown"),
    [((4, 2), "(4, 2)"), (((4, 2),), "(4, 2)"), ((4, -1), "(4, -1)"), ((-1, -1), "(-1, -1)")],
    ids=["varargs", "tuple", "bad-minus-one", "two-minus-ones"],
)
def test_reshape_error_names_both_shapes(args, shown):
    t = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="^" + re.escape(f"cannot reshape (2, 3) (6 elements) into {shown}") + "$"):
        t.reshape(*args)


def test_transpose_defaults_to_last_two_dims():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    result = Tensor(a).transpose()
    assert result.shape == (2, 4, 3)
    np.testing.assert_array_equal(result.data, np.swapaxes(a, -2, -1))
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(Tensor(m).transpose().data, m.T)


@pytest.mark.parametrize(("dim0", "dim1"), [(0, 2), (0, 1), (1, -1), (-3, -2), (2, 0)])
def test_transpose_explicit_dims(dim0, dim1):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    result = Tensor(a).transpose(dim0, dim1)
    expected = np.swapaxes(a, dim0, dim1)
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result.data, expected)


def test_transpose_of_1d_and_0d_is_unchanged():
    v = Tensor([1.0, 2.0, 3.0])
    result = v.transpose()
    assert isinstance(result, Tensor)
    assert result.shape == (3,)
    np.testing.assert_array_equal(result.data, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    np.testing.assert_array_equal(v.T.data, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert Tensor(5.0).transpose().shape == ()


def test_T_property_swaps_last_two_dims():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert Tensor(a).T.shape == (2, 4, 3)
    np.testing.assert_array_equal(Tensor(a).T.data, np.swapaxes(a, -1, -2))
    m = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    np.testing.assert_array_equal(Tensor(m).T.data, m.T)


@FAST
@given(array=arrays(np.float32, array_shapes(min_dims=2, max_dims=4, max_side=4), elements=finite32))
def test_transpose_twice_is_identity_and_reshape_roundtrips(array):
    t = Tensor(array)
    np.testing.assert_array_equal(t.T.T.data, array)
    np.testing.assert_array_equal(t.reshape(-1).reshape(array.shape).data, array)
    np.testing.assert_array_equal(t.reshape(-1).data, array.ravel())
