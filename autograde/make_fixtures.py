"""Generate the fixtures from the reference package: `python -m autograde.make_fixtures [--check] [--out DIR]`.

For every probe of every module, SPECS gives a seed and the inputs (drawn from `np.random.default_rng(seed)`); the
probe runs in-process on the reference `tinytorch` with NumPy's global state seeded too, and its outputs except
`raw_*` become the expected outputs. autograde/fixtures/<module>.npz holds `<probe>/in/<name>` and
`<probe>/out/<name>`, written byte for byte reproducibly (sorted members, fixed timestamps, no compression);
manifest.json holds per entry the probe, seed, tolerances, labels and each array's shape, dtype and sha256, plus
the generator version (bump GENERATOR_VERSION when probes or inputs change) and the NumPy version.

`--check` regenerates into a temporary folder and exits 1 naming every entry that differs from the committed
manifest or whose committed arrays no longer match their checksums.
"""

import argparse
import importlib
import io
import json
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from .checks import FIXTURES, PROBE_MODULES, digest

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
        Spec("tensor_matmul", 1, _matmul, rtol=1e-5, atol=1e-5),
        Spec("tensor_matmul_shape_error", 0),
        Spec("tensor_reductions", 2, lambda rng: {
            "x": f32(rng.standard_normal((3, 4, 5))), "small": i64([[1, 2], [3, 5]])}, rtol=1e-5, atol=1e-5),
        Spec("tensor_reshape_transpose", 0, lambda rng: {"x": np.arange(24, dtype=np.float32)}),
        Spec("tensor_hidden_composite", 10, lambda rng: {
            "a": f32(rng.standard_normal((4, 3))), "b": f32(rng.standard_normal((3, 5))),
            "c": f32(rng.standard_normal(5)), "d": rng.standard_normal((4, 5))}, rtol=1e-5, atol=1e-5),
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
            "x_3d": f32(rng.standard_normal((2, 3, 6)))}, rtol=1e-5, atol=1e-6),
        Spec("linear_hidden_no_bias", 14, lambda rng: {
            "weight": f32(rng.standard_normal((6, 4)) / np.sqrt(6)), "x": f32(rng.standard_normal((5, 6))),
            "x_1d": f32(rng.standard_normal(6))}, rtol=1e-5, atol=1e-6),
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
        Spec("sequential_hidden_deck_mlp_reference", 16, _mlp_weights, rtol=1e-4, atol=1e-4),
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


def write(folder: Path) -> dict:
    """Generate every module's fixtures into `folder`; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"generator_version": GENERATOR_VERSION, "numpy_version": np.__version__, "modules": {}}
    for module in SPECS:
        members, entries = generate(module)
        write_npz(folder / f"{module}.npz", members)
        manifest["modules"][module] = {"file": f"{module}.npz", "entries": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def drift(folder: Path) -> list[str]:
    """Entries ("module/probe") whose regenerated fixtures differ from the committed manifest in `folder`, or whose
    committed arrays do not match the manifest's checksums."""
    committed = json.loads((folder / "manifest.json").read_text())
    with tempfile.TemporaryDirectory(prefix="tinytorch-fixtures-") as tmp:
        fresh = write(Path(tmp))
    if committed.get("generator_version") != fresh["generator_version"]:
        return [f"generator_version {committed.get('generator_version')} != {fresh['generator_version']}"]
    drifting = []
    for module in sorted(set(committed["modules"]) | set(fresh["modules"])):
        old = committed["modules"].get(module, {}).get("entries", {})
        new = fresh["modules"].get(module, {}).get("entries", {})
        try:
            with np.load(folder / f"{module}.npz", allow_pickle=False) as npz:
                stored = {key: digest(npz[key]) for key in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile):  # missing or corrupt: every entry drifts
            stored = {}
        listed = {f"{probe}/{key}" for probe, entry in old.items() for key in entry["arrays"]}
        for probe in sorted(set(old) | set(new)):
            arrays = old.get(probe, {}).get("arrays", {})
            intact = all(stored.get(f"{probe}/{key}") == info["sha256"] for key, info in arrays.items())
            extra = any(key.startswith(f"{probe}/") and key not in listed for key in stored)
            if old.get(probe) != new.get(probe) or not intact or extra:
                drifting.append(f"{module}/{probe}")
    return drifting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="regenerate in a temp dir and compare; exit 1 on drift")
    parser.add_argument("--out", type=Path, default=FIXTURES, help="fixtures folder (default: autograde/fixtures)")
    args = parser.parse_args(argv)
    if not args.check:
        manifest = write(args.out)
        count = sum(len(m["entries"]) for m in manifest["modules"].values())
        print(f"wrote {count} fixture entries to {args.out}")
        return 0
    drifting = drift(args.out)
    committed = json.loads((args.out / "manifest.json").read_text())
    if committed.get("numpy_version") != np.__version__:
        print(f"note: fixtures made with numpy {committed.get('numpy_version')}, this is numpy {np.__version__}")
    for name in drifting:
        print(f"drift: {name}")
    print("fixtures are up to date" if not drifting else f"{len(drifting)} fixture entries drifted; regenerate them")
    return 1 if drifting else 0


if __name__ == "__main__":
    sys.exit(main())
