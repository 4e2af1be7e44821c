"""Probes for module 01 (Tensor). Runs inside the sandbox: imports only numpy, the stdlib and the student's package.

A probe is `def probe(inputs: dict[str, np.ndarray]) -> Outputs`: it records each output with the method of its kind
(value, flag, error, message, text, shape or raw; probes/protocol.py says how each is judged). LABELS names each
output for student feedback, under its key `protocol.key(kind, name)`.
"""

import operator

import numpy as np

from tinytorch.core.tensor import Tensor

from .common import Arrays, Outputs, arr
from .protocol import ERROR, FLAG, MESSAGE, SHAPE, TEXT, key

OPS = {
    "add": ("+", operator.add),
    "sub": ("-", operator.sub),
    "mul": ("*", operator.mul),
    "div": ("/", operator.truediv),
}
HIDDEN_BROADCAST = [((2, 3, 4), (3, 1)), ((5,), (2, 5)), ((1,), (4, 1, 2))]
MATMUL_SHAPES = [
    ((4, 3), (3, 5)),
    ((2, 4, 3), (3, 5)),
    ((2, 4, 3), (2, 3, 5)),
    ((3,), (3, 5)),
    ((4, 3), (3,)),
    ((3,), (3,)),
]
MATMUL_BAD = [
    ((32, 128), (256, 10)),
    ((8, 32, 128), (64, 10)),
    ((4, 3), (2, 5, 6)),
    ((4, 3), (5,)),
    ((3,), (4,)),
    ((2, 7), (3, 7)),
    ((), (3,)),
    ((3, 2), ()),
]
AXES = {"all": None, "0": 0, "1": 1, "2": 2, "m1": -1, "0_2": (0, 2)}
RESHAPES = [
    ((4, 6), "(4, 6)"),
    (((4, 6),), "((4, 6))"),
    (([2, 3, 4],), "([2, 3, 4])"),
    ((-1, 4), "(-1, 4)"),
    ((2, -1, 3), "(2, -1, 3)"),
    ((-1,), "(-1)"),
]
BAD_RESHAPES = [((4, 2), "(4, 2)"), (((5, -1),), "((5, -1))"), (([4, 4],), "([4, 4])")]
CREATION = {
    "list_of_ints": ("Tensor([1, 2, 3])", lambda i: i["ints"].tolist()),
    "list_of_floats": ("Tensor([0.5, -1.5])", lambda i: i["floats"].tolist()),
    "nested_list": ("Tensor([[1, 2], [3, 4], [5, 6]])", lambda i: i["nested"].tolist()),
    "python_int": ("Tensor(7)", lambda i: int(i["python_int"])),
    "python_float": ("Tensor(2.5)", lambda i: float(i["python_float"])),
    "python_bool": ("Tensor(True)", lambda i: bool(i["python_bool"])),
    "bool_array": ("Tensor(a bool array)", lambda i: i["bool_array"]),
    "int64_array": ("Tensor(np.arange(4))", lambda i: i["int64_array"]),
    "float64_array": ("Tensor(a float64 array)", lambda i: i["float64_array"]),
    "numpy_scalar": ("Tensor(np.float64(3.25))", lambda i: i["numpy_scalar"][()]),
    "empty_list": ("Tensor([])", lambda i: []),
}
SCALAR_CASES = {
    "t_add_2": ("t + 2", lambda t, v, x: t + 2),
    "r_add_2": ("2 + t", lambda t, v, x: 2 + t),
    "t_sub_1": ("t - 1", lambda t, v, x: t - 1),
    "r_sub_1": ("1 - t", lambda t, v, x: 1 - t),
    "t_mul_3": ("t * 3", lambda t, v, x: t * 3),
    "r_mul_3": ("3 * t", lambda t, v, x: 3 * t),
    "t_div_4": ("t / 4", lambda t, v, x: t / 4),
    "r_div_4": ("4 / t", lambda t, v, x: 4 / t),
    "neg": ("-t", lambda t, v, x: -t),
    "t_mul_01": ("t * 0.1", lambda t, v, x: t * 0.1),
    "t_add_np64": ("t + np.float64(2.5)", lambda t, v, x: t + np.float64(2.5)),
    "t_sub_v": ("t - v (a float64 array)", lambda t, v, x: t - v),
    "v_sub_t": ("v - t (a float64 array on the left)", lambda t, v, x: v - t),
    "v_add_t": ("v + t", lambda t, v, x: v + t),
    "v_mul_t": ("v * t", lambda t, v, x: v * t),
    "v_div_t": ("v / t", lambda t, v, x: v / t),
    "f64_mul_2": ("float64 tensor * 2", lambda t, v, x: Tensor(x, dtype=np.float64) * 2),
    "f64_add_f32": ("float64 tensor + float32 tensor", lambda t, v, x: Tensor(v, dtype=np.float64) + t),
    "chain": ("(1 - t) / 2 + 3 * t", lambda t, v, x: (1 - t) / 2 + 3 * t),
    "one_div_f64": ("1.0 / float64 tensor", lambda t, v, x: 1.0 / Tensor(v, dtype=np.float64)),
}
UNCHANGED = {
    "add": ("a + b", lambda a, b: a + b),
    "sub": ("a - b", lambda a, b: a - b),
    "mul": ("a * b", lambda a, b: a * b),
    "div": ("a / b", lambda a, b: a / b),
    "radd": ("2 + a", lambda a, b: 2 + a),
    "rsub": ("2 - a", lambda a, b: 2 - a),
    "rmul": ("2 * a", lambda a, b: 2 * a),
    "rdiv": ("2 / b", lambda a, b: 2 / b),
    "neg": ("-a", lambda a, b: -a),
    "matmul": ("a @ b", lambda a, b: a @ b),
    "sum": ("a.sum(axis=0)", lambda a, b: a.sum(axis=0)),
    "mean": ("a.mean()", lambda a, b: a.mean()),
    "reshape": ("a.reshape(-1)", lambda a, b: a.reshape(-1)),
    "transpose": ("a.transpose()", lambda a, b: a.transpose()),
    "T": ("a.T", lambda a, b: a.T),
}


def _unary_label(desc: str) -> str:
    return f"{desc} must return a new Tensor and leave its operands unchanged"


def _mm(a, b) -> str:
    return f"{a} @ {b}"


LABELS: dict[str, dict[str, str]] = {
    "tensor_creation_dtype": {k: label for k, (label, _) in CREATION.items()}
    | {
        "dtype_float64": "Tensor([1, 2, 3], dtype=np.float64)",
        "dtype_int64": "Tensor([1, 2, 3], dtype=np.int64)",
        "dtype_float16": "Tensor([1, 2, 3], dtype=np.float16)",
        "float64_kept": "Tensor(np.array([0.1, 0.2, 0.3]), dtype=np.float64)",
        "int8_as_int32": "Tensor(an int8 array, dtype=np.int32)",
        "from_tensor": "Tensor(another_tensor)",
        "from_tensor_float64": "Tensor(another_tensor, dtype=np.float64)",
        "from_int64_tensor": "Tensor(an int64 tensor)",
    },
    "tensor_properties_live": {
        "size_before": "t.size of Tensor(np.zeros((2, 3)))",
        "ndim_before": "t.ndim of Tensor(np.zeros((2, 3)))",
        "size_after": "t.size after t.data = np.ones((4, 5, 6))",
        "ndim_after": "t.ndim after t.data = np.ones((4, 5, 6))",
        key(SHAPE, "before"): "t.shape of Tensor(np.zeros((2, 3)))",
        key(SHAPE, "after"): "t.shape after t.data = np.ones((4, 5, 6))",
        key(TEXT, "dtype_before"): "t.dtype of Tensor(np.zeros((2, 3), dtype=np.float32))",
        key(TEXT, "dtype_after"): "t.dtype after t.data = a float64 array",
        key(FLAG, "numpy_is_data"): "t.numpy() should return the underlying array itself",
    },
    "tensor_arithmetic": {f"{op}_ab": f"a {sym} b" for op, (sym, _) in OPS.items()}
    | {"a_after": "a after the operations (must be unchanged)", "b_after": "b after the operations (must be unchanged)"}
    | {
        f"{op}_{side}_{kind}": f"(3, 4) {sym} {shape} {kind}"
        for op, (sym, _) in OPS.items()
        for side, shape in (("row", "(4,)"), ("col", "(3, 1)"))
        for kind in ("tensor", "ndarray")
    }
    | {"col_plus_row": "(3, 1) + (1, 4)"}
    | {f"{op}_h{k}": f"{a} {sym} {b}" for op, (sym, _) in OPS.items() for k, (a, b) in enumerate(HIDDEN_BROADCAST)},
    "tensor_arithmetic_scalars_dtype": {k: f"`{label}`" for k, (label, _) in SCALAR_CASES.items()}
    | {"x_after": "t after the operations (must be unchanged)"},
    "tensor_matmul": {f"mm_{k}": _mm(a, b) for k, (a, b) in enumerate(MATMUL_SHAPES)}
    | {
        "matmul_ndarray": "Tensor.matmul(ndarray)",
        "at_ndarray": "Tensor @ ndarray",
        "ndarray_at": "ndarray @ Tensor",
        "at_list": "Tensor @ nested list",
    },
    "tensor_matmul_shape_error": {
        key(kind, str(k)): _mm(a, b) for k, (a, b) in enumerate(MATMUL_BAD) for kind in (ERROR, MESSAGE)
    },
    "tensor_reductions": {
        f"{name}_{ax}{'_keep' if keep else ''}": f"t.{name}(axis={axis}, keepdims={keep})"
        for name in ("sum", "mean")
        for ax, axis in AXES.items()
        for keep in (False, True)
    }
    | {"mean_positional": "t.mean(1)", "mean_small": "Tensor([[1, 2], [3, 5]]).mean()"},
    "tensor_reshape_transpose": {f"reshape_{k}": f"t.reshape{label}" for k, (_, label) in enumerate(RESHAPES)}
    | {key(ERROR, f"bad_{k}"): f"Tensor(np.zeros(6)).reshape{label}" for k, (_, label) in enumerate(BAD_RESHAPES)}
    | {key(MESSAGE, f"bad_{k}"): f"Tensor(np.zeros(6)).reshape{label}" for k, (_, label) in enumerate(BAD_RESHAPES)}
    | {
        key(SHAPE, "t_after"): "t.shape after t.reshape(...) (reshape must not change t)",
        "transpose_m": "(2, 3).transpose()",
        "t_m": "(2, 3).T",
        "t_batch": "T of a (2, 3, 4) batch",
        "transpose_0_2": "(2, 3, 4).transpose(0, 2)",
        "t_vector": "T of a 1-D tensor",
        "reshape_then_transpose": "reshape(2, 3).transpose(1, 0)",
    },
    "tensor_hidden_composite": {
        "chain1": "((a @ b) * 2 - c).sum(axis=0) / 3",
        "chain2": "(a.T @ a).mean(axis=1, keepdims=True)",
        "chain3": "(1 - a / 4).reshape(-1)",
        "chain4": "d - (a @ b) with d a float64 ndarray",
        "chain5": "(-(a @ b) + 0.5).transpose().sum()",
        "chain6": "Tensor(d, dtype=np.float64) * a.sum(axis=1, keepdims=True)",
    },
    "tensor_hidden_inputs_unchanged": {key(FLAG, k): _unary_label(f"`{label}`") for k, (label, _) in UNCHANGED.items()},
}


def tensor_creation_dtype(inputs: Arrays) -> Outputs:
    """Tensor(...) from lists, Python scalars, arrays and Tensors, with and without an explicit dtype."""
    i, out = inputs, Outputs()
    labels = LABELS["tensor_creation_dtype"]
    for name, (label, make) in CREATION.items():
        out.value(name, arr(Tensor(make(i)), label))
    for dtype in (np.float64, np.int64, np.float16):
        name = f"dtype_{np.dtype(dtype).name}"
        out.value(name, arr(Tensor(i["ints"].tolist(), dtype=dtype), labels[name]))
    out.value("float64_kept", arr(Tensor(i["float64_digits"], dtype=np.float64), labels["float64_kept"]))
    out.value("int8_as_int32", arr(Tensor(i["int8_array"], dtype=np.int32), labels["int8_as_int32"]))
    source = Tensor(i["nested"][:2].tolist())
    out.value("from_tensor", arr(Tensor(source), labels["from_tensor"]))
    out.value("from_tensor_float64", arr(Tensor(source, dtype=np.float64), labels["from_tensor_float64"]))
    out.value("from_int64_tensor", arr(Tensor(Tensor(i["ints"], dtype=np.int64)), labels["from_int64_tensor"]))
    return out


def _props(out: Outputs, t: Tensor, when: str) -> None:
    out.shape(when, t.shape)
    out.text(f"dtype_{when}", np.dtype(t.dtype).name)
    out.value(f"size_{when}", np.array(int(t.size), dtype=np.int64))
    out.value(f"ndim_{when}", np.array(int(t.ndim), dtype=np.int64))


def tensor_properties_live(inputs: Arrays) -> Outputs:
    """shape, dtype, size and ndim follow `t.data` after it is replaced; numpy() returns `t.data` itself."""
    t, out = Tensor(inputs["zeros"].copy()), Outputs()
    _props(out, t, "before")
    t.data = inputs["ones"].copy()
    _props(out, t, "after")
    out.flag("numpy_is_data", t.numpy() is t.data)
    return out


def tensor_arithmetic(inputs: Arrays) -> Outputs:
    """+ - * / between Tensors, with broadcasting and ndarray right operands, leaving the operands unchanged."""
    labels, out = LABELS["tensor_arithmetic"], Outputs()
    a, b, row, col = (inputs[k].copy() for k in ("a", "b", "row", "col"))
    ta, tb = Tensor(a.copy()), Tensor(b.copy())
    for op, (_, fn) in OPS.items():
        out.value(f"{op}_ab", arr(fn(ta, tb), labels[f"{op}_ab"]))
    out.value("a_after", np.array(ta.data))
    out.value("b_after", np.array(tb.data))
    for side, other in (("row", row), ("col", col)):
        for op, (_, fn) in OPS.items():
            for kind, right in (("tensor", Tensor(other)), ("ndarray", other)):
                name = f"{op}_{side}_{kind}"
                out.value(name, arr(fn(ta, right), labels[name]))
    out.value("col_plus_row", arr(Tensor(col) + Tensor(row.reshape(1, 4)), labels["col_plus_row"]))
    for k in range(len(HIDDEN_BROADCAST)):
        for op, (_, fn) in OPS.items():
            name = f"{op}_h{k}"
            out.value(name, arr(fn(Tensor(inputs[f"hx{k}"]), Tensor(inputs[f"hy{k}"])), labels[name]))
    return out


def tensor_arithmetic_scalars_dtype(inputs: Arrays) -> Outputs:
    """Arithmetic with Python/NumPy scalars and float64 arrays on either side always gives float32."""
    labels, out = LABELS["tensor_arithmetic_scalars_dtype"], Outputs()
    x, v = inputs["x"].copy(), inputs["v"].copy()
    t = Tensor(x.copy())
    for name, (_, fn) in SCALAR_CASES.items():
        out.value(name, arr(fn(t, v, x), labels[name]))
    out.value("x_after", np.array(t.data))
    return out


def tensor_matmul(inputs: Arrays) -> Outputs:
    """@ for matrices, batches and vectors, and with ndarray or nested-list operands; float32 results."""
    labels, out = LABELS["tensor_matmul"], Outputs()
    for k in range(len(MATMUL_SHAPES)):
        out.value(f"mm_{k}", arr(Tensor(inputs[f"a{k}"]) @ Tensor(inputs[f"b{k}"]), labels[f"mm_{k}"]))
    a, b = inputs["a"], inputs["b"]
    out.value("matmul_ndarray", arr(Tensor(a).matmul(b), labels["matmul_ndarray"]))
    out.value("at_ndarray", arr(Tensor(a) @ b, labels["at_ndarray"]))
    out.value("ndarray_at", arr(a @ Tensor(b), labels["ndarray_at"]))
    out.value("at_list", arr(Tensor(a) @ b.tolist(), labels["at_list"]))
    return out


def tensor_matmul_shape_error(inputs: Arrays) -> Outputs:
    """Mismatched shapes raise ValueError with the documented message."""
    out = Outputs()
    for k, (sa, sb) in enumerate(MATMUL_BAD):
        out.raises(str(k), lambda sa=sa, sb=sb: Tensor(np.zeros(sa)) @ Tensor(np.zeros(sb)))
    return out


def tensor_reductions(inputs: Arrays) -> Outputs:
    """sum and mean over every axis choice, with and without keepdims."""
    labels, out = LABELS["tensor_reductions"], Outputs()
    t = Tensor(inputs["x"].copy())
    for reduction in ("sum", "mean"):
        for ax, axis in AXES.items():
            for keep in (False, True):
                name = f"{reduction}_{ax}{'_keep' if keep else ''}"
                out.value(name, arr(getattr(t, reduction)(axis=axis, keepdims=keep), labels[name]))
    out.value("mean_positional", arr(t.mean(1), labels["mean_positional"]))
    out.value("mean_small", arr(Tensor(inputs["small"].tolist()).mean(), labels["mean_small"]))
    return out


def tensor_reshape_transpose(inputs: Arrays) -> Outputs:
    """reshape (tuple, list, -1), its error message, transpose/T of matrices, batches and vectors."""
    labels, out = LABELS["tensor_reshape_transpose"], Outputs()
    x = inputs["x"].copy()
    t = Tensor(x)
    for k, (args, _) in enumerate(RESHAPES):
        out.value(f"reshape_{k}", arr(t.reshape(*args), labels[f"reshape_{k}"]))
    out.shape("t_after", t.shape)
    for k, (args, _) in enumerate(BAD_RESHAPES):
        out.raises(f"bad_{k}", lambda args=args: Tensor(np.zeros(6)).reshape(*args))
    m, batch = x[:6].reshape(2, 3), x.reshape(2, 3, 4)
    cases = {
        "transpose_m": lambda: Tensor(m).transpose(),
        "t_m": lambda: Tensor(m).T,
        "t_batch": lambda: Tensor(batch).T,
        "transpose_0_2": lambda: Tensor(batch).transpose(0, 2),
        "t_vector": lambda: Tensor(x[:3]).T,
        "reshape_then_transpose": lambda: Tensor(x[:6]).reshape(2, 3).transpose(1, 0),
    }
    for name, fn in cases.items():
        out.value(name, arr(fn(), labels[name]))
    return out


def tensor_hidden_composite(inputs: Arrays) -> Outputs:
    """Chains of operations, mixing reductions, reshapes, transposes and float64 operands, stay float32."""
    labels, out = LABELS["tensor_hidden_composite"], Outputs()
    a, b, c, d = Tensor(inputs["a"]), Tensor(inputs["b"]), Tensor(inputs["c"]), inputs["d"].copy()
    cases = {
        "chain1": lambda: ((a @ b) * 2 - c).sum(axis=0) / 3,
        "chain2": lambda: (a.T @ a).mean(axis=1, keepdims=True),
        "chain3": lambda: (1 - a / 4).reshape(-1),
        "chain4": lambda: d - (a @ b),
        "chain5": lambda: (-(a @ b) + 0.5).transpose().sum(),
        "chain6": lambda: Tensor(d, dtype=np.float64) * a.sum(axis=1, keepdims=True),
    }
    for name, fn in cases.items():
        out.value(name, arr(fn(), labels[name]))
    return out


def tensor_hidden_inputs_unchanged(inputs: Arrays) -> Outputs:
    """Every operation returns a new Tensor and leaves its operands' data unchanged."""
    out = Outputs()
    for name, (_, fn) in UNCHANGED.items():
        a, b = inputs["a"].copy(), inputs["b"].copy()
        ta, tb = Tensor(a.copy()), Tensor(b.copy())
        result = fn(ta, tb)
        same = np.array_equal(ta.data, a) and np.array_equal(tb.data, b)
        out.flag(name, same and isinstance(result, Tensor) and result is not ta and result is not tb)
    return out
