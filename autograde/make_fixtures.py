"""Generate the fixtures from the reference package: `python -m autograde.make_fixtures [--check] [--out DIR]`.

For every probe of every module, SPECS gives a seed and the inputs (drawn from `np.random.default_rng(seed)`); the
probe runs in-process on the reference `tinytorch` with NumPy's global state seeded too, and its outputs except
`raw_*` become the expected outputs. autograde/fixtures/<module>.npz holds `<probe>/in/<name>` and
`<probe>/out/<name>`, identical byte for byte for identical arrays (sorted members, fixed timestamps, no
compression); manifest.json holds per entry the probe, seed, tolerances, labels and each array's shape, dtype and
sha256, plus the generator version (bump GENERATOR_VERSION when probes or inputs change) and the NumPy version of
the last run that rewrote an entry.

Float outputs differ between machines in their last bits (BLAS kernels and thread counts order the sums of matrix
products differently, NumPy's SIMD exp/tanh differ between instruction sets), so a regenerated entry is compared
with the committed one: its inputs, integer, bool and text outputs and manifest fields exactly, its float outputs
within `drift_tolerance`. Regenerating keeps, byte for byte, every committed entry that holds on this machine and
rewrites the others: on another CPU it rewrites nothing that has not changed.

`--check` regenerates in memory and exits 1 naming every entry that differs beyond that, or whose committed arrays
no longer match their checksums, and what differs (per array: the max abs and rel error and the tolerance).
"""

import argparse
import importlib
import io
import json
import math
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from .checks import FIXTURES, PROBE_MODULES, digest
from .compare import diff

GENERATOR_VERSION = 1
ROOT = Path(__file__).resolve().parents[1]
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Spec:
    probe: str
    seed: int
    inputs: Callable[[np.random.Generator], Arrays] = lambda rng: {}
    rtol: float = 0.0
    atol: float = 0.0
    terms: int = 0  # most products summed into one float output by matrix products (see drift_tolerance)


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def i64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


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
    from .probes.tensor import HIDDEN_BROADCAST

    out = {"a": f32(rng.standard_normal((3, 4))), "b": _signed(rng, (3, 4))}
    out |= {"row": f32(rng.uniform(0.5, 2.0, 4)), "col": f32(rng.uniform(0.5, 2.0, (3, 1)))}
    for k, (sa, sb) in enumerate(HIDDEN_BROADCAST):
        out |= {f"hx{k}": f32(rng.standard_normal(sa)), f"hy{k}": f32(rng.uniform(0.5, 2.0, sb))}
    return out


def _matmul(rng: np.random.Generator) -> Arrays:
    from .probes.tensor import MATMUL_SHAPES

    out = {}
    for k, (sa, sb) in enumerate(MATMUL_SHAPES):
        out |= {f"a{k}": f32(rng.standard_normal(sa)), f"b{k}": f32(rng.standard_normal(sb))}
    return out | {"a": f32(rng.standard_normal((4, 3))), "b": rng.standard_normal((3, 2))}


def _linear_shapes(rng: np.random.Generator) -> Arrays:
    from .probes.layers import BAD_SHAPES, INPUT_SHAPES

    out = {f"x{k}": rng.standard_normal(shape) for k, shape in enumerate(INPUT_SHAPES)}
    return out | {f"bad_shape_{k}": i64(shape) for k, shape in enumerate(BAD_SHAPES)}


def _mlp_weights(rng: np.random.Generator) -> Arrays:
    """Weights as int8 codes times a scale (uniform, std sqrt(1/fan_in)): a quarter of the float32 size."""
    out = {}
    for name, (fan_in, fan_out) in (("w1", (784, 256)), ("w2", (256, 10))):
        out[f"{name}_codes"] = rng.integers(-127, 128, (fan_in, fan_out)).astype(np.int8)
        out[f"{name}_scale"] = f32(np.sqrt(3.0 / fan_in) / 127)
    out |= {"b1": f32(rng.uniform(-0.5, 0.5, 256)), "b2": f32(rng.uniform(-0.5, 0.5, 10))}
    return out | {"pixels": rng.integers(0, 256, (32, 784)).astype(np.uint8)}


SPECS: dict[str, list[Spec]] = {
    "01_tensor": [
        Spec("tensor_creation_dtype", 0, _creation, rtol=1e-6),
        Spec("tensor_properties_live", 0, lambda rng: {
            "zeros": np.zeros((2, 3), np.float32), "ones": np.ones((4, 5, 6))}),
        Spec("tensor_arithmetic", 0, _arithmetic, rtol=1e-6, atol=1e-6),
        Spec("tensor_arithmetic_scalars_dtype", 0, lambda rng: {
            "x": f32([[1.0, -2.0, 4.0], [0.5, 8.0, -1.0]]), "v": np.array([2.0, 4.0, -0.5])}, rtol=1e-6, atol=1e-6),
        Spec("tensor_matmul", 1, _matmul, rtol=1e-5, atol=1e-5, terms=3),  # every inner dimension is 3
        Spec("tensor_matmul_shape_error", 0),
        Spec("tensor_reductions", 2, lambda rng: {
            "x": f32(rng.standard_normal((3, 4, 5))), "small": i64([[1, 2], [3, 5]])}, rtol=1e-5, atol=1e-5),
        Spec("tensor_reshape_transpose", 0, lambda rng: {"x": np.arange(24, dtype=np.float32)}),
        Spec("tensor_hidden_composite", 10, lambda rng: {
            "a": f32(rng.standard_normal((4, 3))), "b": f32(rng.standard_normal((3, 5))),
            "c": f32(rng.standard_normal(5)), "d": rng.standard_normal((4, 5))}, rtol=1e-5, atol=1e-5,
            terms=4 * 5 * 3),  # chain5 sums all of a @ b
        Spec("tensor_hidden_inputs_unchanged", 11, lambda rng: {
            "a": f32(rng.standard_normal((4, 4))), "b": _signed(rng, (4, 4))}),
    ],
    "02_activations": [
        Spec("relu_forward", 0, lambda rng: {
            "small": f32([[-3.0, -0.5, 0.0], [0.25, 2.0, 7.5]]), "cube": f32(rng.standard_normal((4, 5, 6)))}),
        Spec("sigmoid_forward", 1, lambda rng: {
            "line": f32(np.linspace(-20.0, 20.0, 81)), "random": f32(rng.standard_normal((3, 4)) * 4)},
            rtol=1e-6, atol=1e-7),
        Spec("sigmoid_stable", 11, lambda rng: {
            "extreme": f32([-1000.0, -100.0, -88.8, -30.0, 0.0, 30.0, 88.8, 100.0, 1000.0]),
            "big": f32(rng.standard_normal((50, 20)) * 300)}, rtol=1e-6, atol=1e-7),
        Spec("tanh_forward", 2, lambda rng: {
            "extreme": f32([-1000.0, -20.0, -2.0, -0.5, 0.0, 0.5, 2.0, 20.0, 1000.0]),
            "cube": f32(rng.standard_normal((2, 3, 4)))}, rtol=1e-6, atol=1e-7),
        Spec("softmax_forward", 3, lambda rng: {
            "x0": f32(rng.standard_normal((4, 5)) * 2), "x1": f32(rng.standard_normal((3, 3)) * 2),
            "x2": f32(rng.standard_normal(6) * 2), "equal_rows": f32([[0, 0, 0, 0], [1, 2, 3, 4]])},
            rtol=1e-5, atol=1e-7),
        Spec("softmax_stable", 4, lambda rng: {
            "pm1000": f32([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]]),
            "x": f32(rng.standard_normal((5, 4))), "huge64": np.array([[1e4, 0.0, -1e4], [3e4, 3e4, 3e4]])},
            rtol=1e-5, atol=1e-7),
        Spec("softmax_dim", 5, lambda rng: {
            "x": f32(rng.standard_normal((3, 4))), "cube": f32(rng.standard_normal((2, 3, 4))),
            "large": f32([[1000.0, 0.0], [1001.0, 0.0]])}, rtol=1e-5, atol=1e-7),
        Spec("module_activations_contract", 6, lambda rng: {
            f"x{k}": rng.standard_normal(shape) * 3 for k, shape in enumerate([(7,), (2, 3), (2, 3, 4)])},
            rtol=1e-5, atol=1e-6),
        Spec("relu_hidden_infinities", 0, lambda rng: {
            "x": np.array([-np.inf, -1e30, -1.0, -0.0, 0.0, 1e-30, 2.0, 1e30, np.inf])}),
        Spec("softmax_hidden_reference_outputs", 12, lambda rng: {
            "cube": f32(rng.standard_normal((3, 4, 5)) * 10), "x64": rng.standard_normal((4, 6)) * 50,
            "spread": f32([[0.0, -1000.0, 1000.0], [5.0, 5.0, 5.0], [-1000.0, -1000.0, -999.0]])},
            rtol=1e-5, atol=1e-7),
    ],
    "03_layers": [
        Spec("linear_shapes_and_dtype", 0, _linear_shapes),
        Spec("linear_forward_matches_numpy", 1, lambda rng: {
            "b": np.array([0.5, -1.0, 2.0]), "x": f32(rng.standard_normal((6, 4))),
            "x3": f32(rng.standard_normal((2, 5, 4))), "x_int": np.arange(8, dtype=np.int64).reshape(2, 4),
            "seed_wide": i64(11), "b_wide": np.array([1.5, -0.25]), "x_wide": f32(rng.standard_normal((3, 7)))},
            rtol=1e-5, atol=1e-5),
        Spec("linear_init_statistics", 2),
        Spec("linear_parameters", 0),
        Spec("linear_hidden_reference_outputs", 13, lambda rng: {
            "weight": f32(rng.standard_normal((6, 4)) / np.sqrt(6)), "bias": f32(rng.uniform(-1, 1, 4)),
            "x": f32(rng.standard_normal((5, 6))), "x_1d": f32(rng.standard_normal(6)),
            "x_3d": f32(rng.standard_normal((2, 3, 6)))}, rtol=1e-5, atol=1e-6, terms=6),
        Spec("linear_hidden_no_bias", 14, lambda rng: {
            "weight": f32(rng.standard_normal((6, 4)) / np.sqrt(6)), "x": f32(rng.standard_normal((5, 6))),
            "x_1d": f32(rng.standard_normal(6))}, rtol=1e-5, atol=1e-6, terms=6),
        Spec("dropout_invalid_p", 0),
        Spec("dropout_modes", 3, lambda rng: {"x": f32(rng.uniform(1.0, 2.0, (50, 40)))}),
        Spec("dropout_edge_p", 4, lambda rng: {"x": f32(rng.uniform(1.0, 2.0, (20, 30)))}),
        Spec("dropout_training_values", 5, lambda rng: {
            "x": f32(rng.uniform(1.0, 2.0, (200, 500))), "p": np.array([0.5, 0.2, 0.8, 0.05]),
            "shape_3d": i64([20, 50, 100])}),
        Spec("dropout_mean_preserved", 6, lambda rng: {
            "values": f32([1.0, -2.0, 3.0, 0.5]), "trials": i64(50_000), "p": np.array([0.5, 0.3])}),
        Spec("dropout_hidden_other_p", 15, lambda rng: {
            "x": f32(rng.uniform(0.5, 2.0, (250, 400))), "p": np.array([0.1, 0.25, 0.75, 0.9])}),
        Spec("sequential_forward_order", 7, lambda rng: {
            "x_small": f32([[1.0, -2.0, 3.0]]), "b1": np.linspace(-1.0, 1.0, 5), "b2": np.array([0.3, -0.7]),
            "x": f32(rng.standard_normal((7, 3)))}, rtol=1e-5, atol=1e-5),
        Spec("sequential_parameters", 0),
        Spec("sequential_train_eval", 8, lambda rng: {
            "x": rng.standard_normal((16, 8)), "x_positive": rng.uniform(1.0, 2.0, (10, 10))}),
        Spec("sequential_container", 0, lambda rng: {"x": rng.standard_normal((5, 2))}, rtol=1e-6, atol=1e-6),
        Spec("sequential_mlp_784_256_10", 9, lambda rng: {
            "pixels": rng.integers(0, 256, (32, 784)).astype(np.uint8)}, rtol=1e-4, atol=1e-4),
        Spec("sequential_hidden_deck_mlp_reference", 16, _mlp_weights, rtol=1e-4, atol=1e-4, terms=784 + 256),
        Spec("sequential_hidden_nested_modes", 17, lambda rng: {"x": f32(rng.standard_normal((64, 6)))}),
    ],
}  # fmt: skip


def _reference_probes(module: str) -> ModuleType:
    """The module's probes, bound to the reference package of this repository."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tinytorch

    if Path(tinytorch.__file__).resolve().parent != ROOT / "tinytorch":
        raise SystemExit(f"make_fixtures needs the reference package {ROOT / 'tinytorch'}, got {tinytorch.__file__}")
    return importlib.import_module(f"autograde.probes.{PROBE_MODULES[module]}")


def generate(module: str) -> tuple[Arrays, dict]:
    """The module's npz members and manifest entries, from the reference package."""
    probes = _reference_probes(module)
    members, entries = {}, {}
    for spec in SPECS[module]:
        inputs = {"seed": i64(spec.seed)} | spec.inputs(np.random.default_rng(spec.seed))
        np.random.seed(spec.seed)
        outputs = getattr(probes, spec.probe)({k: v.copy() for k, v in inputs.items()})
        parts = [(f"in/{k}", v) for k, v in inputs.items()]
        parts += [(f"out/{k}", v) for k, v in outputs.items() if not k.startswith("raw_")]
        members |= {f"{spec.probe}/{key}": a for key, a in parts}
        labels = probes.LABELS.get(spec.probe, {})
        entries[spec.probe] = {
            "probe": spec.probe,
            "seed": spec.seed,
            "rtol": spec.rtol,
            "atol": spec.atol,
            "inputs": list(inputs),
            "outputs": [k for k in outputs if not k.startswith("raw_")],
            "labels": {k: labels[k] for k in sorted(labels) if k in outputs},
            "arrays": {key: {"shape": list(a.shape), "dtype": a.dtype.str, "sha256": digest(a)} for key, a in parts},
        }
    return members, entries


def write_npz(path: Path, arrays: Arrays) -> None:
    """An .npz that np.load reads, identical byte for byte for identical arrays."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue())


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


@dataclass(frozen=True)
class Comparison:
    committed: dict  # the manifest in the folder ({} if absent or unreadable)
    stored: dict[str, Arrays]  # the folder's npz members per module ({} if absent or corrupt)
    fresh: dict  # the manifest regenerated here
    members: dict[str, Arrays]  # the npz members regenerated here, per module
    drifts: dict[str, EntryDrift]  # per entry "module/probe" (or "generator_version" alone, which voids the rest)


def _read(folder: Path) -> tuple[dict, dict[str, Arrays]]:
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


def compare(folder: Path) -> Comparison:
    """Regenerate every module's fixtures (in memory) and compare each entry with the one committed in `folder`."""
    committed, stored = _read(folder)
    fresh = {"generator_version": GENERATOR_VERSION, "numpy_version": np.__version__, "modules": {}}
    members = {}
    for module in SPECS:
        members[module], entries = generate(module)
        fresh["modules"][module] = {"file": f"{module}.npz", "entries": entries}
    if committed.get("generator_version") != GENERATOR_VERSION:
        problem = f"committed {committed.get('generator_version')}, this generator {GENERATOR_VERSION}"
        return Comparison(committed, stored, fresh, members, {"generator_version": EntryDrift([problem])})
    drifts = {}
    for module in sorted(set(committed.get("modules", {})) | set(fresh["modules"])):
        old, new = committed.get("modules", {}).get(module, {}), fresh["modules"].get(module, {})
        specs = {spec.probe: spec for spec in SPECS.get(module, [])}
        for probe in sorted(set(old.get("entries", {})) | set(new.get("entries", {}))):
            was, now = old.get("entries", {}).get(probe), new.get("entries", {}).get(probe)
            if was is None or now is None:
                drifts[f"{module}/{probe}"] = EntryDrift([f"only {'regenerated' if was is None else 'committed'}"])
            else:
                sides = (was, stored.get(module, {}), old["file"]), (now, members[module], new["file"])
                drifts[f"{module}/{probe}"] = entry_drift(specs[probe], probe, *sides)
    return Comparison(committed, stored, fresh, members, drifts)


def drift(folder: Path) -> dict[str, list[str]]:
    """What drifted, per entry ("module/probe"): beyond tolerance from its regeneration here, or no longer matching
    its checksums."""
    return {name: d.problems for name, d in compare(folder).drifts.items() if d.problems}


def write(folder: Path) -> tuple[dict, list[str]]:
    """Regenerate every module's fixtures into `folder`, keeping byte for byte each entry committed there that holds
    on this machine; returns the manifest and the entries ("module/probe") written anew."""
    folder.mkdir(parents=True, exist_ok=True)
    comparison = compare(folder)
    manifest, rewritten = comparison.fresh, []
    for module, meta in manifest["modules"].items():
        arrays = comparison.members[module]
        for probe in meta["entries"]:
            name = f"{module}/{probe}"
            if name in comparison.drifts and not comparison.drifts[name].problems:
                meta["entries"][probe] = comparison.committed["modules"][module]["entries"][probe]
                arrays = {k: a for k, a in arrays.items() if not k.startswith(f"{probe}/")} | {
                    k: a for k, a in comparison.stored[module].items() if k.startswith(f"{probe}/")
                }
            else:
                rewritten.append(name)
        write_npz(folder / meta["file"], arrays)
    if not rewritten:  # every array is the committed one: so is the NumPy version that made them
        manifest["numpy_version"] = comparison.committed.get("numpy_version", np.__version__)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest, rewritten


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="regenerate in memory and compare; exit 1 on drift")
    parser.add_argument("--out", type=Path, default=FIXTURES, help="fixtures folder (default: autograde/fixtures)")
    args = parser.parse_args(argv)
    if not args.check:
        manifest, rewritten = write(args.out)
        count = sum(len(m["entries"]) for m in manifest["modules"].values())
        print(f"wrote {count} fixture entries to {args.out}: {len(rewritten)} regenerated, the others kept (they hold)")
        return 0
    comparison = compare(args.out)
    if comparison.committed.get("numpy_version") != np.__version__:
        print(f"note: fixtures made with numpy {comparison.committed.get('numpy_version')}, this is {np.__version__}")
    drifting = {name: d.problems for name, d in comparison.drifts.items() if d.problems}
    for name, problems in drifting.items():
        print("\n  ".join([f"drift: {name}", *problems]))
    if drifting:
        print(f"{len(drifting)} fixture entries drifted; regenerate them")
        return 1
    share, name = max((d.worst[0], f"{n}/{d.worst[1]}") for n, d in comparison.drifts.items())
    largest = f" (largest float drift: {share:.0%} of its tolerance, {name})" if share else ""
    print(f"fixtures are up to date{largest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
