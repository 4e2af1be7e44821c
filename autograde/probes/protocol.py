"""The probe protocol: what a probe returns and how the grader reads it back.

A probe's result is a set of named outputs, each of one kind, which says how the grader judges it:

  value    compared with the reference's output: shape, dtype and values (within the check's tolerance)
  flag     a requirement met (True) or not; must be True
  error    the type name of the exception a call raised, "" when it raised none; must equal the reference's
  message  the message of the exception reported by the error of the same name; must equal the reference's when
           that error does
  text     any other text (a repr, a dtype's name); must equal the reference's
  shape    an array's shape; must equal the reference's
  raw      judged by the check's own rules only (random weights, dropout masks); never stored as a reference output

On the way out of the sandbox every output is one plain numeric array (the worker sends a dict of arrays and the
sandbox reads back nothing else): flags as int8 scalars (0 or 1), errors, messages and texts as their UTF-8 bytes
(uint8 vectors, at most MAX_TEXT bytes), shapes as int64 vectors, values and raw outputs as they are (numbers or
bools). The output `name` of `kind` travels under the key `PREFIX[kind] + name`, and the fixtures store the
reference's outputs under those same keys (`<probe>/out/<key>` in autograde/fixtures/<module>.npz, the manifest's
"outputs" and "labels"), which keeps the committed fixtures valid. PREFIX is the one place that spells them: probes
record outputs with `probes.common.Outputs`, the grader reads them with `validate`, and neither spells a prefix.

Imports numpy and the stdlib only: it is shipped into the sandbox with the probes and imported by the grader.
"""

from dataclasses import dataclass, field

import numpy as np

VALUE, FLAG, ERROR, MESSAGE, TEXT, SHAPE, RAW = "value", "flag", "error", "message", "text", "shape", "raw"
PREFIX = {FLAG: "ok_", ERROR: "err_", MESSAGE: "msg_", TEXT: "txt_", SHAPE: "shape_", RAW: "raw_", VALUE: ""}
TEXTS = (ERROR, MESSAGE, TEXT)
MAX_TEXT = 2000  # bytes of one text output

Arrays = dict[str, np.ndarray]


class MalformedResult(ValueError):
    """Outputs that do not follow the protocol; `problems` says which and why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def key(kind: str, name: str) -> str:
    """The key output `name` of `kind` travels and is stored under; ValueError for a name that would be misread."""
    if kind not in PREFIX or not name or parse(PREFIX[kind] + name) != (kind, name):
        raise ValueError(f"{name!r} cannot name an output of kind {kind!r}")
    return PREFIX[kind] + name


def parse(wire_key: str) -> tuple[str, str]:
    """(kind, name) of an output's key: the kind whose prefix it starts with, a value otherwise."""
    kind = next((kind for kind, prefix in PREFIX.items() if prefix and wire_key.startswith(prefix)), VALUE)
    return kind, wire_key[len(PREFIX[kind]) :]


def is_stored(wire_key: str) -> bool:
    """Whether the reference's output under `wire_key` is stored in the fixtures (every kind but raw)."""
    return parse(wire_key)[0] != RAW


def encode(kind: str, value) -> np.ndarray:
    """An output of `kind` as the plain array it travels as (a str given as a raw output travels as its bytes)."""
    if kind == FLAG:
        return np.array(value is True or value is np.True_, dtype=np.int8)
    if kind in TEXTS or (kind == RAW and isinstance(value, str)):
        return np.frombuffer(str(value).encode()[:MAX_TEXT], dtype=np.uint8).copy()
    if kind == SHAPE:
        return np.array(tuple(value), dtype=np.int64)
    return np.asarray(value)


def decode_text(a: np.ndarray) -> str:
    return bytes(np.asarray(a, dtype=np.uint8).ravel()).decode("utf-8", "replace")


def _malformed(kind: str, a: np.ndarray) -> str | None:
    """Why array `a` cannot be an output of `kind`, or None."""
    if kind == FLAG:
        ok, wanted = a.dtype == np.int8 and a.ndim == 0 and int(a) in (0, 1), "an int8 scalar 0 or 1"
    elif kind in TEXTS:
        ok, wanted = a.dtype == np.uint8 and a.ndim == 1, "a uint8 vector"
    elif kind == SHAPE:
        ok, wanted = a.dtype == np.int64 and a.ndim == 1, "an int64 vector"
    else:  # values and raw outputs
        ok, wanted = a.dtype.kind in "biuf", "an array of numbers or bools"
    return None if ok else f"should be {wanted}, got {a.dtype} of shape {a.shape}"


def _decode(kind: str, a: np.ndarray):
    if kind == FLAG:
        return bool(a == 1)
    if kind in TEXTS:
        return decode_text(a)
    if kind == SHAPE:
        return tuple(int(n) for n in a)
    return a


@dataclass(frozen=True)
class Result:
    """A probe's validated outputs, by kind and name: arrays for values and raw outputs, bools for flags, str for
    errors, messages and texts, tuples of ints for shapes. `order` lists (kind, name) as the probe recorded them."""

    order: tuple[tuple[str, str], ...] = ()
    value: dict[str, np.ndarray] = field(default_factory=dict)
    flag: dict[str, bool] = field(default_factory=dict)
    error: dict[str, str] = field(default_factory=dict)
    message: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    shape: dict[str, tuple[int, ...]] = field(default_factory=dict)
    raw: dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, kind: str, name: str, default=None):
        return getattr(self, kind).get(name, default)


def validate(arrays: Arrays) -> Result:
    """The outputs a probe returned (a dict of arrays, as the sandbox reads them back, or a fixture's expected
    outputs), checked against their kinds and decoded; MalformedResult naming every output that is not of its kind."""
    decoded: dict[str, dict] = {kind: {} for kind in PREFIX}
    problems = []
    for k, a in arrays.items():
        kind, name = parse(k)
        why = _malformed(kind, a) if isinstance(a, np.ndarray) else f"should be an array, got {type(a).__name__}"
        why = why if name else "names no output"
        if why:
            problems.append(f"output {k!r} ({kind} {name!r}) {why}")
        else:
            decoded[kind][name] = _decode(kind, a)
    if problems:
        raise MalformedResult(problems)
    return Result(tuple(parse(k) for k in arrays), **decoded)
