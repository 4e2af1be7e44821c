"""Short, plain-text reports of how a student's array differs from the expected one.

`diff` returns None when the arrays agree (same shape, the expected dtype, values within rtol/atol, NaN where
NaN is expected) and otherwise one line such as

    y: 12 of 400 elements differ (3.0%); max abs error 0.5 at [2, 1]; max rel error 0.25 at [3, 0];
    at [0, 2] expected 1.5, got 2; at [1, 0] expected -0.25, got 0

It names shape and dtype problems first, counts unexpected NaN/inf values and shows at most three
mismatching elements, never a whole array.
"""

import numpy as np

SHOWN = 3  # mismatching elements shown at most


def shape_note(got: tuple, expected: tuple) -> str:
    """A guess at what a wrong shape means, or ''."""
    if len(got) >= 2 and got == expected[::-1]:
        return " (looks transposed)"
    if expected == (1, *got):
        return " (looks like the batch dimension of size 1 is missing)"
    if got == (1, *expected):
        return " (an extra leading dimension of size 1)"
    return ""


def _index(flat: int, shape: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]" if shape else "[]"


def _num(value: float) -> str:
    return f"{value:.6g}"


def diff(got, expected, *, rtol: float = 0.0, atol: float = 0.0, name: str = "output", dtype=None) -> str | None:
    """None if `got` matches `expected`, else a one-line report naming `name`.

    Values match when |got - expected| <= atol + rtol * |expected| (NaN matches NaN, inf matches inf of the
    same sign). `dtype` is the dtype `got` must have (default: expected's dtype).
    """
    got, expected = np.asarray(got), np.asarray(expected)
    if got.dtype.kind not in "biuf":
        return f"{name}: expected numbers, got an array of {got.dtype}"
    if got.shape != expected.shape:
        text = f"{name}: shape {got.shape}, expected {expected.shape}{shape_note(got.shape, expected.shape)}"
        if got.dtype.kind in "iu" and expected.dtype.kind in "iu" and max(got.size, expected.size) <= 8:
            text += f": got {got.tolist()}, expected {expected.tolist()}"  # small integer lists (positions, counts)
        return text
    problems = []
    want = expected.dtype if dtype is None else dtype
    if got.dtype != np.dtype(want):
        problems.append(f"dtype {got.dtype}, expected {np.dtype(want)}")
    g, e = got.astype(np.float64).ravel(), expected.astype(np.float64).ravel()
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    nans, infs = int(np.sum(np.isnan(g) & ~np.isnan(e))), int(np.sum(np.isinf(g) & ~np.isinf(e)))
    if nans or infs:
        problems.append(" and ".join(f"{n} {what}" for n, what in ((nans, "NaN"), (infs, "inf")) if n) + " values")
    bad = np.flatnonzero(~close)
    if bad.size and g.size == 1:
        problems.append(f"expected {_num(e[0])}, got {_num(g[0])}")
    elif bad.size:
        text = f"{bad.size} of {g.size} elements differ ({bad.size / g.size:.1%})"
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            abs_err = np.where(np.isfinite(g) & np.isfinite(e), np.abs(g - e), 0.0)
            rel_err = np.where(e != 0, abs_err / np.abs(e), 0.0)
        if abs_err.max() > 0:
            text += f"; max abs error {_num(abs_err.max())} at {_index(int(abs_err.argmax()), got.shape)}"
        if rel_err.max() > 0:
            text += f"; max rel error {_num(rel_err.max())} at {_index(int(rel_err.argmax()), got.shape)}"
        shown = [f"at {_index(i, got.shape)} expected {_num(e[i])}, got {_num(g[i])}" for i in bad[:SHOWN]]
        problems.append(text + "; " + "; ".join(shown))
    return f"{name}: " + "; ".join(problems) if problems else None
