"""Generate the fixtures from the reference package: `python -m autograde.make_fixtures [--check] [--out DIR]`.

For every check of every module's pack (autograde/packs/, modules as in settings.ini), its fixture `Spec` gives a
seed and the inputs (drawn from `np.random.default_rng(seed)`); the check's probe runs in-process on the reference
`tinytorch` with NumPy's global state seeded too, and its outputs except the raw ones (autograde/probes/protocol.py)
become the expected outputs (file layout: autograde/fixture_io.py). manifest.json also holds the generator version
(bump GENERATOR_VERSION when probes or inputs change) and the NumPy version of the last run that rewrote an entry.

Float outputs differ between machines in their last bits (BLAS kernels and thread counts order the sums of matrix
products differently, NumPy's SIMD exp/tanh differ between instruction sets), so a regenerated entry is compared
with the committed one: its inputs, integer, bool and text outputs and manifest fields exactly, its float outputs
within `fixture_io.drift_tolerance`. Regenerating keeps, byte for byte, every committed entry that holds on this
machine and rewrites the others: on another CPU it rewrites nothing that has not changed.

`--check` regenerates in memory and exits 1 naming every entry that differs beyond that, or whose committed arrays
no longer match their checksums, and what differs (per array: the max abs and rel error and the tolerance).
"""

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from tinytorch_course import settings

from . import packs
from .fixture_io import FIXTURES, Arrays, EntryDrift, digest, entry_drift, i64, read_folder, write_npz
from .probes import protocol

GENERATOR_VERSION = 1
ROOT = Path(__file__).resolve().parents[1]


def _reference_probes(pack: packs.Pack) -> ModuleType:
    """The pack's probe module, bound to the reference package of this repository."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tinytorch

    if Path(tinytorch.__file__).resolve().parent != ROOT / "tinytorch":
        raise SystemExit(f"make_fixtures needs the reference package {ROOT / 'tinytorch'}, got {tinytorch.__file__}")
    return importlib.import_module(f"autograde.probes.{pack.name}")


def generate(module: str) -> tuple[Arrays, dict]:
    """The module's npz members and manifest entries, from the reference package."""
    pack = packs.load(module)
    probes = _reference_probes(pack)
    members, entries = {}, {}
    for check in pack.checks:
        spec, probe = check.fixture, check.probe
        inputs = {"seed": i64(spec.seed)} | spec.inputs(np.random.default_rng(spec.seed))
        np.random.seed(spec.seed)
        outputs = getattr(probes, probe)({k: v.copy() for k, v in inputs.items()})
        protocol.validate(outputs)  # the reference's outputs follow the protocol, or nothing is written
        stored = [k for k in outputs if protocol.is_stored(k)]
        parts = [(f"in/{k}", v) for k, v in inputs.items()] + [(f"out/{k}", outputs[k]) for k in stored]
        members |= {f"{probe}/{key}": a for key, a in parts}
        labels = probes.LABELS.get(probe, {})
        entries[probe] = {
            "probe": probe,
            "seed": spec.seed,
            "rtol": spec.rtol,
            "atol": spec.atol,
            "inputs": list(inputs),
            "outputs": stored,
            "labels": {k: labels[k] for k in sorted(labels) if k in outputs},
            "arrays": {key: {"shape": list(a.shape), "dtype": a.dtype.str, "sha256": digest(a)} for key, a in parts},
        }
    return members, entries


@dataclass(frozen=True)
class Comparison:
    committed: dict  # the manifest in the folder ({} if absent or unreadable)
    stored: dict[str, Arrays]  # the folder's npz members per module ({} if absent or corrupt)
    fresh: dict  # the manifest regenerated here
    members: dict[str, Arrays]  # the npz members regenerated here, per module
    drifts: dict[str, EntryDrift]  # per entry "module/probe" (or "generator_version" alone, which voids the rest)


def compare(folder: Path) -> Comparison:
    """Regenerate every module's fixtures (in memory) and compare each entry with the one committed in `folder`."""
    committed, stored = read_folder(folder)
    fresh = {"generator_version": GENERATOR_VERSION, "numpy_version": np.__version__, "modules": {}}
    members = {}
    for module in settings.load().modules:
        members[module], entries = generate(module)
        fresh["modules"][module] = {"file": f"{module}.npz", "entries": entries}
    if committed.get("generator_version") != GENERATOR_VERSION:
        problem = f"committed {committed.get('generator_version')}, this generator {GENERATOR_VERSION}"
        return Comparison(committed, stored, fresh, members, {"generator_version": EntryDrift([problem])})
    drifts = {}
    for module in sorted(set(committed.get("modules", {})) | set(fresh["modules"])):
        old, new = committed.get("modules", {}).get(module, {}), fresh["modules"].get(module, {})
        specs = {check.probe: check.fixture for check in packs.load(module).checks} if new else {}
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
