"""The fixtures on disk: what a check's fixture is made of (`Spec`), what the grader reads back (`Fixture`), the
files (`<module>.npz` and `manifest.json` in autograde/fixtures/) and how a committed entry is compared with its
regeneration on another machine (`entry_drift`).

autograde/fixtures/<module>.npz holds `<probe>/in/<name>` and `<probe>/out/<key>` (each reference output under its
key of the probe protocol, autograde/probes/protocol.py, raw outputs left out), identical byte for byte for identical
arrays (sorted members, fixed timestamps, no compression); manifest.json holds per entry the probe, seed,
tolerances, labels and each array's shape, dtype and sha256. `python -m autograde.make_fixtures` writes them.

Imports numpy and the stdlib only; never tinytorch.
"""

import hashlib
import io
import json
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .compare import diff

Arrays = dict[str, np.ndarray]
FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Spec:
    """How a check's fixture is made: inputs drawn from `np.random.default_rng(seed)`, the reference's outputs
    compared within rtol/atol when graded."""

    seed: int
    inputs: Callable[[np.random.Generator], Arrays] = lambda rng: {}
    rtol: float = 0.0
    atol: float = 0.0
    terms: int = 0  # most products summed into one float output by matrix products (see drift_tolerance)


@dataclass(frozen=True)
class Fixture:
    """One probe's trusted data: inputs (the only part the sandbox sees) and the reference's outputs."""

    inputs: Arrays
    expected: Arrays  # the reference's outputs by protocol key, as a probe returns them (judging decodes them)
    rtol: float = 0.0
    atol: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def i64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


def digest(a: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    a = np.asarray(a, order="C")
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def load_fixtures(module: str, root: Path = FIXTURES) -> dict[str, Fixture]:
    """The module's fixtures by probe name, each array checked against the manifest's checksum."""
    meta = json.loads((root / "manifest.json").read_text())["modules"][module]
    with np.load(root / meta["file"], allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    fixtures = {}
    for probe, entry in meta["entries"].items():
        parts: dict[str, Arrays] = {"in": {}, "out": {}}
        order = [f"in/{k}" for k in entry["inputs"]] + [f"out/{k}" for k in entry["outputs"]]
        for key in order:
            a = arrays[f"{probe}/{key}"]
            if digest(a) != entry["arrays"][key]["sha256"]:
                raise ValueError(f"fixture {module}/{probe}/{key} does not match its checksum")
            a.setflags(write=False)
            part, name = key.split("/", 1)
            parts[part][name] = a
        fixtures[probe] = Fixture(parts["in"], parts["out"], entry["rtol"], entry["atol"], entry["labels"])
    return fixtures


def write_npz(path: Path, arrays: Arrays) -> None:
    """An .npz that np.load reads, identical byte for byte for identical arrays."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue())


def read_folder(folder: Path) -> tuple[dict, dict[str, Arrays]]:
    """The manifest in `folder` and its modules' npz members; {} for what is absent or unreadable."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}, {}
    stored = {}
    for module, meta in manifest.get("modules", {}).items():
        try:
            with np.load(folder / meta["file"], allow_pickle=False) as npz:
                stored[module] = {key: npz[key] for key in npz.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # missing or corrupt: every entry drifts
            stored[module] = {}
    return manifest, stored


# --------------------------------------------------------------------------- drift between machines
#
# The reference's float results differ between machines in their last bits, and only there: OpenBLAS picks its
# matrix-product kernel by CPU and splits the work by thread count, so each product's sum is accumulated in another
# order, and NumPy picks its exp/tanh among SIMD paths (AVX-512, AVX2, baseline) at run time. Everything else
# (inputs from seeded Generators, IEEE + - * /, NumPy's fixed-order sum and mean, integers, flags, texts) is
# machine independent. So a regenerated float output may differ from the committed one, per element, by
#
#     DRIFT_ULPS * (eps * |value|  +  smallest_subnormal  +  eps * sqrt(terms) * scale)
#
# with eps the output dtype's machine epsilon (float32: 1.19e-7):
# - eps * |value|: every path of exp and tanh is accurate to a few ulps, so two paths differ by a few (measured: 2);
# - smallest_subnormal: below the smallest normal float the spacing stops shrinking, ulps become absolute
#   (sigmoid(-100) is subnormal);
# - eps * sqrt(terms) * scale: a sum of `terms` products (Spec.terms: the longest chain of sums behind one output)
#   accumulated in another order carries other rounding errors. They add up like a random walk, to about
#   sqrt(terms) roundings of the partial sums (Higham and Mary, "A new approach to probabilistic rounding error
#   analysis", SIAM J. Sci. Comput. 2019), and the partial sums are of the size of the entry's outputs: `scale` is
#   the largest finite |value| among the entry's float outputs as regenerated here (the committed ones may have
#   been tampered with). The worst case, `terms` roundings of sum(|products|), is never reached in practice and
#   for the 784-256-10 MLP would exceed its grading tolerance.
# Each coefficient is capped at GRADING_SHARE of the Spec's grading rtol/atol: the committed output and this
# machine's reference are never more than half the grading tolerance apart, and an entry graded exactly
# (rtol = atol = 0) may not drift at all. Measured across OpenBLAS's x86-64 kernels (Prescott, Nehalem,
# Sandybridge, Haswell, SkylakeX), 1 to 8 threads and NumPy's baseline, AVX2 and AVX-512 paths, the largest drift
# uses 37% of this tolerance (softmax, tanh, sigmoid: 2 ulps), 22% among matrix products (linear_hidden_*, where
# the cap binds) and 3% in the MLP.
DRIFT_ULPS = 4
GRADING_SHARE = 0.5


def drift_tolerance(spec: Spec, dtype: np.dtype, scale: float) -> tuple[float, float]:
    """(rtol, atol) within which a float output regenerated on another machine may differ from the committed one;
    `scale` is the largest finite |value| among the entry's float outputs (see the comment above)."""
    info = np.finfo(dtype)
    rtol = DRIFT_ULPS * float(info.eps)
    atol = DRIFT_ULPS * (float(info.smallest_subnormal) + float(info.eps) * math.sqrt(spec.terms) * scale)
    return min(rtol, GRADING_SHARE * spec.rtol), min(atol, GRADING_SHARE * spec.atol)


def _tolerant(key: str, dtype: str) -> bool:
    """Float reference outputs are compared within drift_tolerance; inputs and every other output exactly."""
    return key.startswith("out/") and np.dtype(dtype).kind == "f"


def _largest_finite(arrays: list[np.ndarray]) -> float:
    return max((float(np.abs(a[np.isfinite(a)]).max(initial=0)) for a in arrays), default=0.0)


def _share_of_tolerance(committed: np.ndarray, fresh: np.ndarray, rtol: float, atol: float) -> float:
    """The largest |committed - fresh| as a share of the tolerance (0: identical; inf: differs where none may)."""
    c, f = committed.astype(np.float64), fresh.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        gap = np.where((c == f) | (np.isnan(c) & np.isnan(f)), 0.0, np.abs(c - f))
        share = np.where(gap == 0, 0.0, np.nan_to_num(gap / (atol + rtol * np.abs(f)), nan=np.inf))
    return float(share.max(initial=0.0))


@dataclass(frozen=True)
class EntryDrift:
    """How one committed entry compares with its regeneration on this machine."""

    problems: list[str]  # what differs beyond tolerance; none: the committed entry holds here
    worst: tuple[float, str] = (0.0, "")  # the largest share of its tolerance a float output uses, and its key


def _integrity(probe: str, entry: dict, stored: Arrays, file: str) -> tuple[list[str], set[str]]:
    """Problems of the committed arrays against their manifest entry (machine independent: no regeneration), and
    the keys of the intact arrays."""
    problems, intact = [], set()
    for key, info in entry["arrays"].items():
        a = stored.get(f"{probe}/{key}")
        if a is None:
            problems.append(f"{key}: missing from {file}")
        elif digest(a) != info["sha256"]:
            problems.append(f"{key}: the committed array does not match its sha256 in manifest.json")
        else:
            intact.add(key)
    unlisted = sorted(k for k in stored if k.startswith(f"{probe}/") and k[len(probe) + 1 :] not in entry["arrays"])
    if unlisted:
        problems.append(f"{file} holds arrays manifest.json does not list: {', '.join(unlisted)}")
    return problems, intact


def _array_drift(
    spec: Spec, key: str, info: dict, committed: np.ndarray, fresh: np.ndarray, scale: float
) -> tuple[str | None, float]:
    """(problem or None, share of tolerance used) for one array of matching shape and dtype."""
    name = f"{key}, committed vs this machine's reference"
    if not _tolerant(key, info["dtype"]):
        if digest(committed) == digest(fresh):
            return None, 0.0
        return diff(committed, fresh, name=name) or f"{name}: differs in its bytes (signed zeros or NaNs)", 0.0
    rtol, atol = drift_tolerance(spec, np.dtype(info["dtype"]), scale)
    report = diff(committed, fresh, rtol=rtol, atol=atol, name=name)
    share = _share_of_tolerance(committed, fresh, rtol, atol)
    return (report and f"{report}; tolerance rtol {rtol:.3g}, atol {atol:.3g}"), share


# One side of a comparison: a manifest entry, its module's npz members and the npz file's name.
Side = tuple[dict, Arrays, str]


def entry_drift(spec: Spec, probe: str, committed: Side, regenerated: Side) -> EntryDrift:
    """Compare a committed manifest entry and its arrays with their regeneration on this machine."""
    (old, stored, old_file), (new, fresh, new_file) = committed, regenerated
    problems, intact = _integrity(probe, old, stored, old_file)
    fields = {"file": (old_file, new_file)} | {f: (old.get(f), new.get(f)) for f in sorted({*old, *new} - {"arrays"})}
    problems += [
        f"manifest {f}: committed {was!r}, regenerated {now!r}" for f, (was, now) in fields.items() if was != now
    ]
    floats = [fresh[f"{probe}/{k}"] for k, info in new["arrays"].items() if _tolerant(k, info["dtype"])]
    scale, worst = _largest_finite(floats), (0.0, "")
    for key in sorted(set(old["arrays"]) | set(new["arrays"])):
        was, now = old["arrays"].get(key), new["arrays"].get(key)
        if was is None or now is None:
            problems.append(f"{key}: only in the {'committed' if now is None else 'regenerated'} manifest")
        elif (was["shape"], was["dtype"]) != (now["shape"], now["dtype"]):
            problems.append(f"{key}: committed {was['dtype']} {was['shape']}, now {now['dtype']} {now['shape']}")
        elif key in intact:  # a broken array is reported above
            problem, share = _array_drift(spec, key, now, stored[f"{probe}/{key}"], fresh[f"{probe}/{key}"], scale)
            problems += [problem] if problem else []
            worst = max(worst, (share, key))
    return EntryDrift(problems, worst)
