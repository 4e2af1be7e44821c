"""What every probe module needs: the result it returns (`Outputs`), the student's Tensors as plain arrays, and
their errors as text.

Runs inside the sandbox (imports only numpy, the stdlib and the student's package), where the sandbox ships
this folder as the package `probes`; in the grader's own process it is `autograde.probes`.
"""

from collections.abc import Callable

import numpy as np

from tinytorch.core.tensor import Tensor

from .protocol import ERROR, FLAG, MESSAGE, RAW, SHAPE, TEXT, VALUE, encode, key

Arrays = dict[str, np.ndarray]


class ContractError(Exception):
    """The student's API returned something of the wrong kind; the message is shown to the student."""


def arr(t, what: str) -> np.ndarray:
    """A copy of the data of Tensor `t` (the result of `what`); ContractError unless it holds a numeric ndarray."""
    if not isinstance(t, Tensor):
        raise ContractError(f"{what} should return a Tensor, got {type(t).__name__}")
    if not isinstance(t.data, np.ndarray) or t.data.dtype.kind not in "biuf":
        raise ContractError(f"{what}: .data should be a NumPy array of numbers, got {type(t.data).__name__}")
    return np.array(t.data)


def raised(fn: Callable[[], object]) -> tuple[str, str]:
    """(exception type name, message) of calling fn, a ValueError subclass named ValueError; ("", "") when it
    returns normally."""
    try:
        fn()
    except ValueError as e:
        return "ValueError", str(e)
    except Exception as e:  # any other failure is reported by name
        return type(e).__name__, str(e)
    return "", ""


def strict(out: "Outputs", name: str, fn: Callable[[], np.ndarray], raw: bool = False) -> None:
    """Value (or, with `raw`, raw output) `name`: the array fn() returns, computed with overflow, invalid and divide
    raising; error `name`: the FloatingPointError that stopped it, or ""."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            result = fn()
    except FloatingPointError as e:
        out.error(name, f"FloatingPointError ({e})")
        return
    out.error(name, "")
    (out.raw if raw else out.value)(name, result)


def linear_from(weight: np.ndarray, bias: np.ndarray | None):
    """A Linear(in, out) holding `weight` (in, out) and `bias` (out,); without a bias when `bias` is None."""
    from tinytorch.core.layers import Linear  # here, not above: modules 01 and 02 are graded without layers

    layer = Linear(*weight.shape, bias=bias is not None)
    layer.weight.data[...] = weight
    if bias is not None:
        layer.bias.data[...] = bias
    return layer


class Outputs(dict):
    """A probe's result: each method records one output of its kind (see probes/protocol.py) under the name given.
    It is the dict of plain arrays the worker sends, so a probe returns it as it is."""

    def _add(self, kind: str, name: str, value) -> None:
        self[key(kind, name)] = encode(kind, value)

    def value(self, name: str, array: np.ndarray) -> None:
        self._add(VALUE, name, array)

    def flag(self, name: str, ok: bool) -> None:
        self._add(FLAG, name, ok)

    def error(self, name: str, type_name: str) -> None:
        self._add(ERROR, name, type_name)

    def message(self, name: str, text: str) -> None:
        self._add(MESSAGE, name, text)

    def text(self, name: str, text: str) -> None:
        self._add(TEXT, name, text)

    def shape(self, name: str, shape: tuple) -> None:
        self._add(SHAPE, name, shape)

    def raw(self, name: str, array: np.ndarray | str) -> None:
        self._add(RAW, name, array)

    def raises(self, name: str, fn: Callable[[], object], message: bool = True) -> str:
        """Record the type name of what calling fn raises ("" for nothing) as error `name` and, with `message`, its
        message as message `name`; returns the message."""
        type_name, text = raised(fn)
        self.error(name, type_name)
        if message:
            self.message(name, text)
        return text

    def raises_with_raw_message(self, name: str, fn: Callable[[], object]) -> None:
        """Error `name`: the type name of what calling fn raises; raw output `name`_message: its text, left to the
        pack's rules (which ask what a message must say, not its exact words)."""
        self.raw(f"{name}_message", self.raises(name, fn, message=False))
