"""What every probe module needs: turning the student's results into plain arrays, and their errors into text.

Runs inside the sandbox (imports only numpy, the stdlib and the student's package), where the sandbox ships
this folder as the package `probes`; in the grader's own process it is `autograde.probes`.
"""

from collections.abc import Callable

import numpy as np

from tinytorch.core.tensor import Tensor

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


def text(s: str) -> np.ndarray:
    return np.frombuffer(str(s).encode()[:2000], dtype=np.uint8).copy()


def flag(ok: bool) -> np.ndarray:
    return np.array(ok is True or ok is np.True_, dtype=np.int8)


def shape(a: np.ndarray) -> np.ndarray:
    return np.array(a.shape, dtype=np.int64)


def raises(fn: Callable[[], object]) -> tuple[np.ndarray, np.ndarray]:
    """(exception type name, message) of calling fn, a ValueError subclass named ValueError; ("", "") when it
    returns normally."""
    try:
        fn()
    except ValueError as e:
        return text("ValueError"), text(str(e))
    except Exception as e:  # any other failure is reported by name
        return text(type(e).__name__), text(str(e))
    return text(""), text("")
