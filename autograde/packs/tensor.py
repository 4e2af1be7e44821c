"""Check pack of module 01 Tensor (probes: autograde/probes/tensor.py)."""

import numpy as np

from autograde.fixture_io import Arrays, Spec, f32, i64
from autograde.judging import Check


def _signed(rng: np.random.Generator, shape) -> np.ndarray:
    """Values with 0.5 <= |v| < 2: safe divisors."""
    return f32(rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape))


def _creation(rng: np.random.Generator) -> Arrays:
    return {
        "ints": i64([1, 2, 3]),
        "floats": np.array([0.5, -1.5]),
        "nested": i64([[1, 2], [3, 4], [5, 6]]),
        "python_int": i64(7),
        "python_float": np.array(2.5),
        "python_bool": np.array(True),
        "bool_array": np.array([True, False, True]),
        "int64_array": np.arange(4, dtype=np.int64),
        "float64_array": np.linspace(-1.0, 1.0, 5),
        "numpy_scalar": np.array(3.25),
        "float64_digits": np.array([0.1, 0.2, 0.3]),
        "int8_array": np.array([1, 2], dtype=np.int8),
    }


def _arithmetic(rng: np.random.Generator) -> Arrays:
    # the probe's own shapes, imported only when make_fixtures calls this (probes import tinytorch)
    from autograde.probes.tensor import HIDDEN_BROADCAST

    out = {"a": f32(rng.standard_normal((3, 4))), "b": _signed(rng, (3, 4))}
    out |= {"row": f32(rng.uniform(0.5, 2.0, 4)), "col": f32(rng.uniform(0.5, 2.0, (3, 1)))}
    for k, (sa, sb) in enumerate(HIDDEN_BROADCAST):
        out |= {f"hx{k}": f32(rng.standard_normal(sa)), f"hy{k}": f32(rng.uniform(0.5, 2.0, sb))}
    return out


def _matmul(rng: np.random.Generator) -> Arrays:
    # the probe's own shapes, imported only when make_fixtures calls this (probes import tinytorch)
    from autograde.probes.tensor import MATMUL_SHAPES

    out = {}
    for k, (sa, sb) in enumerate(MATMUL_SHAPES):
        out |= {f"a{k}": f32(rng.standard_normal(sa)), f"b{k}": f32(rng.standard_normal(sb))}
    return out | {"a": f32(rng.standard_normal((4, 3))), "b": rng.standard_normal((3, 2))}


CHECKS = (
    Check(
        "tensor-creation-dtype",
        points=3,
        title="Tensor(...) stores float32 by default, keeps an explicit dtype and unwraps Tensors",
        hint="Look at how __init__ turns its argument into a NumPy array: which dtype does it use when none is given, "
        "and what happens when the argument is itself a Tensor?",
        probe="tensor_creation_dtype",
        fixture=Spec(seed=0, inputs=_creation, rtol=1e-6),
    ),
    Check(
        "tensor-properties-live",
        points=1,
        title="shape, dtype, size and ndim follow t.data; numpy() returns t.data",
        hint="Compute the properties from self.data each time they are read instead of storing them once.",
        probe="tensor_properties_live",
        fixture=Spec(seed=0, inputs=lambda rng: {"zeros": np.zeros((2, 3), np.float32), "ones": np.ones((4, 5, 6))}),
    ),
    Check(
        "tensor-arithmetic",
        points=2,
        title="+ - * / between Tensors match NumPy, with broadcasting, operands unchanged",
        hint="Each operator should compute on the NumPy data of both operands (the right one may be a Tensor or an "
        "array) and wrap the result in a new Tensor.",
        probe="tensor_arithmetic",
        fixture=Spec(seed=0, inputs=_arithmetic, rtol=1e-6, atol=1e-6),
    ),
    Check(
        "tensor-arithmetic-scalars-dtype",
        points=3,
        title="Arithmetic with numbers and arrays on either side returns float32 Tensors",
        hint="Check the reflected operators (__radd__, __rsub__, __rmul__, __rtruediv__), the order of the operands in"
        " - and /, and that every result is stored as float32.",
        probe="tensor_arithmetic_scalars_dtype",
        fixture=Spec(
            seed=0,
            inputs=lambda rng: {"x": f32([[1.0, -2.0, 4.0], [0.5, 8.0, -1.0]]), "v": np.array([2.0, 4.0, -0.5])},
            rtol=1e-6,
            atol=1e-6,
        ),
    ),
    Check(
        "tensor-matmul",
        points=3,
        title="@ matches NumPy for matrices, batches and vectors, with Tensor, ndarray or list operands",
        hint="Multiply the data of both operands; the other operand may be a Tensor, an ndarray or a nested list, on "
        "either side of @, and the result should be float32.",
        probe="tensor_matmul",
        fixture=Spec(seed=1, inputs=_matmul, rtol=1e-5, atol=1e-5, terms=3),  # every inner dimension is 3
    ),
    Check(
        "tensor-matmul-shape-error",
        points=2,
        title="Mismatched shapes raise ValueError with the documented message",
        hint="Compare the inner dimensions before multiplying (mind 1-D and 0-d operands) and write the message "
        "exactly in the documented format.",
        probe="tensor_matmul_shape_error",
        fixture=Spec(seed=0),
    ),
    Check(
        "tensor-reductions",
        points=2,
        title="sum and mean match NumPy for every axis and keepdims, as float32 Tensors",
        hint="Pass axis and keepdims on to NumPy and wrap the result in a float32 Tensor; reducing over everything "
        "gives a 0-d Tensor.",
        probe="tensor_reductions",
        fixture=Spec(
            seed=2,
            inputs=lambda rng: {"x": f32(rng.standard_normal((3, 4, 5))), "small": i64([[1, 2], [3, 5]])},
            rtol=1e-5,
            atol=1e-5,
        ),
    ),
    Check(
        "tensor-reshape-transpose",
        points=3,
        title="reshape and transpose/T follow NumPy; a bad reshape raises the documented ValueError",
        hint="reshape accepts the new shape as separate numbers or as one tuple or list; transpose swaps the last two "
        "dimensions by default and leaves 1-D tensors as they are.",
        probe="tensor_reshape_transpose",
        fixture=Spec(seed=0, inputs=lambda rng: {"x": np.arange(24, dtype=np.float32)}),
    ),
    Check(
        "tensor-hidden-composite",
        points=2,
        title="Chains of Tensor operations match NumPy and stay float32",
        hint="Every operation, reductions, reshapes and transposes included, should return a float32 Tensor that the "
        "next operation accepts, with a float64 array on either side.",
        probe="tensor_hidden_composite",
        fixture=Spec(
            seed=10,
            inputs=lambda rng: {
                "a": f32(rng.standard_normal((4, 3))),
                "b": f32(rng.standard_normal((3, 5))),
                "c": f32(rng.standard_normal(5)),
                "d": rng.standard_normal((4, 5)),
            },
            rtol=1e-5,
            atol=1e-5,
            terms=4 * 5 * 3,  # chain5 sums all of a @ b
        ),
    ),
    Check(
        "tensor-hidden-inputs-unchanged",
        points=1,
        title="Every operation returns a new Tensor and leaves its operands unchanged",
        hint="Avoid in-place NumPy operations (+=, *=, out=...) on an operand's data; build the result in a new array "
        "and wrap it in a new Tensor.",
        probe="tensor_hidden_inputs_unchanged",
        fixture=Spec(seed=11, inputs=lambda rng: {"a": f32(rng.standard_normal((4, 4))), "b": _signed(rng, (4, 4))}),
    ),
)
