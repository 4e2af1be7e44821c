"""Tests of the autograder's trusted checks (autograde/): the reference package scores full marks, plausible
one-line student bugs lose points on their component (and exactly the checks listed for each bug catch it), valid
implementations that draw random numbers differently keep full marks, the fixtures are reproducible and
tamper-evident, and the feedback says what differs without dumping fixtures.

Probes run in-process here; isolating them is the sandbox's job, tested elsewhere. A "student package" is a copy
of the reference package with a few lines edited, imported as `tinytorch` while its probes run, and each probe's
outputs travel through an .npz (allow_pickle=False), as they do from the sandbox. Each component is graded in
isolation, as the grader does (autograde/preprocessors.py): its checks run on the student's module file with every
other component's solution cell (the file's section under that cell's `# %% ... #<cell id>` header) put back to the
reference's, so a bug loses points on its own component only.
"""

import ast
import contextlib
import functools
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import warnings
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from autograde import compare, fixture_io, judging, make_fixtures, packs
from autograde.fixture_io import load_fixtures
from autograde.judging import Verdict, grade
from autograde.probes import protocol
from tinytorch_course import notebooks
from tinytorch_course import settings as course_settings

ROOT = Path(__file__).resolve().parents[1]
COURSE = course_settings.load()
PACKS = packs.load_all()  # every module of settings.ini, discovered
COMPONENTS = {component: module for module, names in COURSE.components.items() for component in names}


# --------------------------------------------------------------------------- running checks in-process


@contextlib.contextmanager
def imported_as_tinytorch(folder: Path | None):
    """While the block runs, `import tinytorch` imports folder/tinytorch afresh, and the probes with it (None: whatever
    is imported now)."""
    # the probes import tinytorch, so they are swapped along with it
    ours = lambda name: name == "tinytorch" or name.startswith(("tinytorch.", "autograde.probes."))  # noqa: E731
    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    if folder is not None:
        for name in saved:
            del sys.modules[name]
        sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        if folder is not None:
            sys.path.remove(str(folder))
            for name in [name for name in sys.modules if ours(name)]:
                del sys.modules[name]
            sys.modules.update(saved)


def _through_npz(outputs: dict) -> dict[str, np.ndarray]:
    """The outputs as the grader receives them from the sandbox: plain numeric arrays read back without pickle."""
    assert all(re.fullmatch(r"\w+", key) for key in outputs), sorted(outputs)
    buffer = io.BytesIO()
    np.savez(buffer, **outputs)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        received = {key: npz[key] for key in npz.files}
    assert all(a.dtype.kind in "biuf" for a in received.values())
    return received


@functools.cache
def _fixtures(module: str) -> dict:
    return load_fixtures(module)  # read-only arrays: safe to share between tests


@functools.cache
def _solution_cell_ids(module: str) -> dict[str, str]:
    """component -> the cell id of its solution cell (`<component>-implementation`) in the instructor notebook."""
    cells = notebooks.read(COURSE.notebook(module))["cells"]
    ids = {notebooks.nbgrader(cell).get("grade_id"): cell.get("id") for cell in cells}
    return {c: ids[f"{c}-implementation"] for c in COURSE.components[module] if f"{c}-implementation" in ids}


_CELL_HEADER = re.compile(r"^# %% .*#(\S+)\n", re.MULTILINE)


def _cell_sections(source: str) -> dict[str, str]:
    """An exported module file's sections by the cell id in their `# %% ... #<cell id>` header ("" for the top)."""
    starts = [(m.start(), m[1]) for m in _CELL_HEADER.finditer(source)]
    bounds = [(0, "")] + starts + [(len(source), None)]
    return {cell: source[start:end] for (start, cell), (end, _) in zip(bounds[:-1], bounds[1:], strict=True)}


def isolated_package(folder: Path, module: str, component: str) -> Path:
    """A copy of folder/tinytorch whose module files have every other component's solution cell from the reference
    package, and `component`'s and every other cell from the student's (the grader's isolated_notebook, on files)."""
    own, cells = _solution_cell_ids(module).get(component), _solution_cell_ids(module).values()
    isolated = folder.with_name(f"{folder.name}-{component}")
    if isolated.exists():
        return isolated
    shutil.copytree(folder, isolated, ignore=shutil.ignore_patterns("__pycache__"))
    for file in COURSE.package_files(module):
        relative = Path("tinytorch") / file
        reference = _cell_sections((ROOT / relative).read_text())
        student = _cell_sections((folder / relative).read_text())
        spliced = {
            cell: reference[cell] if own and cell in cells and cell != own else text for cell, text in student.items()
        }
        (isolated / relative).write_text("".join(spliced.values()))
    return isolated


def _probe_results(module: str, folder: Path | None, probes: set[str], fixtures: dict) -> dict[str, tuple]:
    """probe -> (outputs through an .npz, None) or (None, "Type: message") of `probes` on folder/tinytorch."""
    results: dict[str, tuple[dict | None, str | None]] = {}
    with imported_as_tinytorch(folder), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a buggy student's overflow is judged, not warned about
        try:
            module_probes = importlib.import_module(f"autograde.probes.{PACKS[module].name}")
        except Exception as e:  # the sandbox's "import-failed"
            return {probe: (None, f"{type(e).__name__}: {e}") for probe in probes}
        for probe in probes:
            np.random.seed(zlib.crc32(probe.encode()))  # probes that do not seed still draw the same masks each run
            try:
                outputs = getattr(module_probes, probe)({k: v.copy() for k, v in fixtures[probe].inputs.items()})
                results[probe] = (_through_npz(outputs), None)
            except Exception as e:  # the sandbox reports a failing probe as "Type: message"
                results[probe] = (None, f"{type(e).__name__}: {e}")
    return results


def run_checks(module: str, folder: Path | None = None, seed: int | None = None) -> dict[str, Verdict]:
    """Every check of `module` on the package in folder/tinytorch, each component's checks on its isolated package
    (`isolated_package`; the reference's own needs none), probes imported afresh as the sandbox imports them, each
    fed a copy of its fixture's inputs (with `seed` replacing the seeds a probe gives NumPy, if given)."""
    fixtures = _fixtures(module)
    if seed is not None:
        reseed = lambda inputs: inputs | {k: np.array(seed + len(k)) for k in ("seed", "seed_wide") if k in inputs}  # noqa: E731
        fixtures = {name: replace(fx, inputs=reseed(fx.inputs)) for name, fx in fixtures.items()}
    by_component: dict[str, list] = {}
    for check in PACKS[module].checks:
        by_component.setdefault(check.name.split("-")[0], []).append(check)
    if folder is None or folder == ROOT:  # nothing to isolate: every component is the reference's already
        by_component = {"": list(PACKS[module].checks)}
    verdicts = {}
    for component, checks in by_component.items():
        package = isolated_package(folder, module, component) if component else folder
        results = _probe_results(module, package, {check.probe for check in checks}, fixtures)
        for check in checks:
            outputs, error = results[check.probe]
            verdicts[check.name] = grade(check, outputs, fixtures[check.probe], error)
    return {check.name: verdicts[check.name] for check in PACKS[module].checks}


def student_package(tmp_path: Path, module: str, edits: list[tuple[str, str]]) -> Path:
    """A copy of the reference package with each `old` line fragment of the module's files replaced by `new`."""
    folder = tmp_path / f"student-{uuid.uuid4().hex[:8]}"
    shutil.copytree(ROOT / "tinytorch", folder / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    paths = [folder / "tinytorch" / file for file in COURSE.package_files(module)]
    sources = {path: path.read_text() for path in paths}
    for old, new in edits:
        found = [path for path, source in sources.items() if old in source]
        names = [path.name for path in paths]
        assert len(found) == 1 and sources[found[0]].count(old) == 1, f"{old!r} should occur exactly once in {names}"
        sources[found[0]] = sources[found[0]].replace(old, new)
    for path, source in sources.items():
        path.write_text(source)
    return folder


def failed(verdicts: dict[str, Verdict]) -> set[str]:
    return {name for name, verdict in verdicts.items() if not verdict.passed}


# --------------------------------------------------------------------------- the packs


def _probe_functions(path: Path) -> dict[str, ast.FunctionDef]:
    """The probes of a probe module, read without importing it (it imports tinytorch): its public functions."""
    tree = ast.parse(path.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name[0] != "_"}


@pytest.mark.parametrize("module", list(PACKS))
def test_each_check_names_its_component_an_existing_probe_and_a_labelled_fixture(module):
    pack, fixtures = PACKS[module], load_fixtures(module)
    probes = _probe_functions(pack.probe_file)
    # every probe a check names exists, and every probe of the module is named by exactly one check
    assert sorted(check.probe for check in pack.checks) == sorted(probes), pack.probe_file
    for check in pack.checks:
        assert check.name.split("-")[0] in COURSE.components[module], check.name
        assert [arg.arg for arg in probes[check.probe].args.args] == ["inputs"], check.probe
        assert check.title and check.hint[-1] in ".?" and check.points > 0 and check.rules
        fixture = fixtures[check.probe]  # every stored output has a student-facing label
        assert all(fixture.labels.get(k) or fixture.labels.get(protocol.parse(k)[1]) for k in fixture.expected)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}


def test_probes_import_only_numpy_stdlib_and_tinytorch_and_the_engine_only_numpy_and_stdlib():
    allowed = {"numpy", *sys.stdlib_module_names}
    for pack in PACKS.values():
        assert {i.split(".")[0] for i in _imports(pack.probe_file)} <= allowed | {"tinytorch"}, pack.probe_file
    for path in ("judging", "fixture_io", "compare", "probes/protocol"):  # the protocol runs on both sides
        assert {i.split(".")[0] for i in _imports(ROOT / "autograde" / f"{path}.py")} <= allowed, path


def test_the_grader_loads_every_pack_without_importing_tinytorch_or_a_probe():
    """Probe modules import tinytorch, which only the sandbox (the student's) and make_fixtures (the reference)
    provide: the grader names probes by their function names and never imports them. It imports the probe
    protocol, which imports numpy and the stdlib only."""
    code = (
        "import sys; from autograde import compare, fixture_io, judging, packs; packs.load_all(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tinytorch' or m.startswith('autograde.probes')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    expected = "['autograde.probes', 'autograde.probes.protocol']\n"
    assert result.returncode == 0 and result.stdout == expected, result.stdout + result.stderr


def _python_files_outside_tests() -> list[Path]:
    skip = {"tests", "build", "__pycache__"}
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not any(part.startswith(".") or part in skip for part in path.relative_to(ROOT).parts)
    ]


def test_a_check_is_named_only_by_its_pack_its_probe_module_its_notebook_and_tests_of_it():
    """A check's grade_id (and its probe's name) occurs in the Python of the repository only in its own pack
    (autograde/packs/<name>.py) and probe module (autograde/probes/<name>.py), so that adding or renaming a check
    touches only its module's files. Tests are exempt, under a rule this test cannot see: a test names a check only
    as an expectation about that very check (the checks a mutant or a sample student must fail, a fixture a test
    tampers with, a check whose feedback it reads); a test that needs a module's checks takes them from its pack."""
    files = {path: path.read_text(encoding="utf-8") for path in _python_files_outside_tests()}
    assert ROOT / "autograde" / "preprocessors.py" in files  # the scan reaches the grader
    misplaced = []
    for pack in PACKS.values():
        own = {ROOT / "autograde" / "packs" / f"{pack.name}.py", pack.probe_file}
        for check in pack.checks:
            pattern = re.compile(rf"(?<![\w-])({re.escape(check.name)}|{re.escape(check.probe)})(?![\w-])")
            misplaced += [f"{path.relative_to(ROOT)} names {check.name}" for path, text in files.items()
                          if path not in own and pattern.search(text)]  # fmt: skip
    assert misplaced == []


# --------------------------------------------------------------------------- (a) the reference scores full marks


@pytest.mark.parametrize("module", list(PACKS))
def test_reference_scores_full_marks(module):
    verdicts = run_checks(module, ROOT)
    assert_as_recorded(f"reference {module}", verdicts)
    assert {name: v.feedback for name, v in verdicts.items() if not v.passed} == {}
    assert [v.score for v in verdicts.values()] == [float(c.points) for c in PACKS[module].checks]
    assert all(v.feedback.endswith(": passed.") for v in verdicts.values())


@pytest.mark.parametrize("module", list(PACKS))
def test_blank_release_scores_nothing(module, tmp_path):
    """The release as students receive it, exported as the grader exports a submission: no check passes."""
    from autograde.preprocessors import scratch_package

    package = scratch_package(json.loads(COURSE.released(module).read_text()), module, tmp_path)
    verdicts = run_checks(module, package.parent)
    assert {name: v.feedback for name, v in verdicts.items() if v.passed} == {}


@pytest.mark.parametrize("seed", [1, 12345, 2**31 - 7])
def test_reference_scores_full_marks_with_any_random_stream(seed):
    """No check relies on the stream the fixture's seeds produce: other seeds give other weights and masks."""
    assert failed(run_checks("03_layers", ROOT, seed)) == set()


CHECKS_BY_NAME = {check.name: check for pack in PACKS.values() for check in pack.checks}


# --------------------------------------------------------------------------- (b) mutation testing


@dataclass(frozen=True)
class Mutant:
    """A plausible student bug in `component`: `edits` replace each `old` fragment of its module file by `new`;
    `caught` lists exactly the checks that must fail (the report's mutation table)."""

    name: str
    component: str
    caught: frozenset[str]
    edits: list[tuple[str, str]]


def _m(name: str, component: str, caught: str, *old_new: str) -> Mutant:
    return Mutant(name, component, frozenset(caught.split()), list(zip(old_new[::2], old_new[1::2], strict=True)))


MSE_RETURN = "return Tensor(np.mean(difference * difference))"
LOG_SOFTMAX_SHIFT = "shifted = logits - logits.max(axis=-1, keepdims=True)"
LOG_SOFTMAX_RETURN = "return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))"
CE_RETURN = "return Tensor(-log_probs[np.arange(len(indices)), indices].sum() / len(indices))"
BCE_CLIP = "p = np.clip(probs.data, self.eps, 1 - self.eps)"
BCE_EPS = "eps: float = float(np.finfo(np.float32).eps)"
NO_GRAD_EXIT = "GradMode.enabled = self.previous"
UNBROADCAST_SUM = "return grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True).reshape(shape)"
DIV_RULE = "return grad / b, -grad * out / b"
MATMUL_GRAD_A = "grad_a = grad2 @ np.swapaxes(b2, -1, -2)"
MATMUL_GRAD_B = "grad_b = np.swapaxes(a2, -1, -2) @ grad2"
MEAN_RULE = "return (grad * (np.size(out) / np.size(a)),)"
LEAF_GRAD = "tensor.grad = Tensor(tensor.grad.data + grad)"
SIGMOID_RULE = "return (grad * out * (1 - out),)"
SOFTMAX_RULE = "return (out * (grad - (grad * out).sum(axis=dim, keepdims=True)),)"
MSE_RULE = "return (grad * 2 * (pred - target) / pred.size,)"
CE_RULE = "return (grad * probs / len(indices),)"
LINEAR_BIAS = "grad2.sum(axis=0)"
DROPOUT_RULE = "return (grad * scale,)"
UNBROADCAST_BODY = """if grad.shape == tuple(shape):
            return grad
        extra = grad.ndim - len(shape)  # leading axes the operand did not have
        stretched = tuple(extra + axis for axis, size in enumerate(shape) if size == 1)
        return grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True).reshape(shape)"""
GRAPH_ORDER = """order, seen = [], {id(self)}
        stack = [(self, iter(self.grad_fn.inputs if self.grad_fn else ()))]
        while stack:
            tensor, inputs = stack[-1]
            for inp in inputs:
                if inp is not None and id(inp) not in seen:
                    seen.add(id(inp))
                    stack.append((inp, iter(inp.grad_fn.inputs if inp.grad_fn else ())))
                    break
            else:  # every input of `tensor` is in `order` already
                stack.pop()
                order.append(tensor)
        return order"""
SKIP_NONE = "if p.grad is None:\n                continue\n            "
SGD_DECAY = "g = g + self.weight_decay * p.data\n            if self.momentum:"
ADAM_DECAY = "g = g + self.weight_decay * p.data\n            self.update(p, g)"
SGD_BUFFER = 'state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + g'
ADAM_DENOM = 'denom = np.sqrt(state["exp_avg_sq"]) / (1 - beta2**t) ** 0.5 + self.eps'
ADAM_STEP = 'p.data -= self.lr / (1 - beta1**t) * state["exp_avg"] / denom'
ADAMW_SHRINK = "p.data *= 1 - self.lr * self.weight_decay"
MUTANTS = [
    # Tensor
    _m(
        "float64 by default",
        "tensor",
        "tensor-arithmetic tensor-arithmetic-scalars-dtype tensor-creation-dtype tensor-hidden-composite "
        "tensor-matmul tensor-properties-live tensor-reductions tensor-reshape-transpose",
        "np.float32 if dtype is None",
        "np.float64 if dtype is None",
    ),
    _m(
        "1 - t computed as t - 1",
        "tensor",
        "tensor-arithmetic-scalars-dtype tensor-hidden-composite",
        "return Tensor(other) - self",
        "return self - other",
    ),
    _m(
        "+ adds in place and returns self",
        "tensor",
        "tensor-arithmetic tensor-arithmetic-scalars-dtype tensor-hidden-inputs-unchanged",
        "return Tensor(self.data + _data(other))",
        "self.data = self.data + _data(other)\n        return self",
    ),
    _m(
        "sum returns an ndarray",
        "tensor",
        "tensor-hidden-composite tensor-hidden-inputs-unchanged tensor-reductions",
        "return Tensor(self.data.sum(axis=axis, keepdims=keepdims))",
        "return self.data.sum(axis=axis, keepdims=keepdims)",
    ),
    _m(
        "matmul error reads b.shape[0]",
        "tensor",
        "tensor-matmul tensor-matmul-shape-error",
        "b.shape[-2 if b.ndim > 1 else 0]",
        "b.shape[0]",
    ),
    _m(
        "transpose swaps the first two dims",
        "tensor",
        "tensor-reshape-transpose",
        "dim0: int = -2, dim1: int = -1",
        "dim0: int = 0, dim1: int = 1",
    ),
    # activations
    _m("ReLU multiplies by a mask", "relu", "relu-hidden-infinities", "np.maximum(x.data, 0)", "x.data * (x.data > 0)"),
    _m(
        "naive sigmoid",
        "sigmoid",
        "sigmoid-stable",
        "np.where(x.data >= 0, 1 / (1 + e), e / (1 + e))",
        "1 / (1 + np.exp(-x.data))",
    ),
    _m(
        "tanh from exponentials",
        "tanh",
        "tanh-forward",
        "np.tanh(x.data)",
        "(np.exp(x.data) - np.exp(-x.data)) / (np.exp(x.data) + np.exp(-x.data))",
    ),
    _m(
        "softmax without the max shift",
        "softmax",
        "softmax-dim softmax-hidden-reference-outputs softmax-stable",
        "shifted = x.data - x.data.max(axis=self.dim, keepdims=True)",
        "shifted = x.data",
    ),
    _m(
        "softmax sums over the last axis",
        "softmax",
        "softmax-dim softmax-hidden-reference-outputs",
        "e.sum(axis=self.dim, keepdims=True)",
        "e.sum(axis=-1, keepdims=True)",
    ),
    # Linear
    _m(
        "forget bias",
        "linear",
        "linear-forward-matches-numpy linear-hidden-reference-outputs",
        "output += self.bias.data",
        "pass  # forgot the bias",
    ),
    _m(
        "weight stored (out, in)",
        "linear",
        "linear-forward-matches-numpy linear-init-statistics linear-shapes-and-dtype",
        "np.random.randn(in_features, out_features)",
        "np.random.randn(out_features, in_features)",
    ),
    _m(
        "PyTorch layout: (out, in) and x @ W.T",
        "linear",
        "linear-forward-matches-numpy linear-hidden-no-bias "
        "linear-hidden-reference-outputs linear-init-statistics linear-shapes-and-dtype",
        "np.random.randn(in_features, out_features)",
        "np.random.randn(out_features, in_features)",
        "output = x.data @ self.weight.data",
        "output = x.data @ self.weight.data.T",
    ),
    _m(
        "scale by 1/in, not sqrt(1/in)",
        "linear",
        "linear-init-statistics",
        "scale = np.sqrt(1.0 / in_features)",
        "scale = 1.0 / in_features",
    ),
    _m(
        "scale by sqrt(1/out)",
        "linear",
        "linear-init-statistics",
        "scale = np.sqrt(1.0 / in_features)",
        "scale = np.sqrt(1.0 / out_features)",
    ),
    _m(
        "He scale sqrt(2/in)",
        "linear",
        "linear-init-statistics",
        "scale = np.sqrt(1.0 / in_features)",
        "scale = np.sqrt(2.0 / in_features)",
    ),
    _m(
        "uniform init np.random.rand",
        "linear",
        "linear-init-statistics",
        "np.random.randn(in_features, out_features) * scale",
        "np.random.rand(in_features, out_features) * scale",
    ),
    _m(
        "uniform init with the right std",
        "linear",
        "linear-init-statistics",
        "np.random.randn(in_features, out_features) * scale",
        "np.random.uniform(-3**0.5, 3**0.5, (in_features, out_features)) * scale",
    ),
    _m(
        "bias a bare ndarray",
        "linear",
        "linear-forward-matches-numpy linear-hidden-reference-outputs linear-init-statistics linear-shapes-and-dtype",
        "self.bias = Tensor(np.zeros(out_features)) if bias else None",
        "self.bias = np.zeros(out_features, dtype=np.float32) if bias else None",
    ),
    _m(
        "parameters() forgets the bias",
        "linear",
        "linear-parameters",
        "return [self.weight] if self.bias is None else [self.weight, self.bias]",
        "return [self.weight]",
    ),
    _m(
        "parameters() returns arrays",
        "linear",
        "linear-hidden-no-bias linear-parameters",
        "return [self.weight] if self.bias is None else [self.weight, self.bias]",
        "return [self.weight.data] if self.bias is None else [self.weight.data, self.bias.data]",
    ),
    # Dropout
    _m(
        "scale survivors by p",
        "dropout",
        "dropout-hidden-other-p dropout-mean-preserved dropout-modes dropout-training-values",
        "x.data * mask / keep_prob",
        "x.data * mask * self.p",
    ),
    _m(
        "scale survivors by 1/p",
        "dropout",
        "dropout-hidden-other-p dropout-mean-preserved dropout-training-values",
        "x.data * mask / keep_prob",
        "x.data * mask / self.p",
    ),
    _m(
        "no rescaling",
        "dropout",
        "dropout-hidden-other-p dropout-mean-preserved dropout-modes dropout-training-values",
        "x.data * mask / keep_prob",
        "x.data * mask",
    ),
    _m(
        "mask with > instead of <",
        "dropout",
        "dropout-hidden-other-p dropout-mean-preserved dropout-training-values",
        "np.random.random(x.shape) < keep_prob",
        "np.random.random(x.shape) > keep_prob",
    ),
    _m(
        "dropout also in eval mode",
        "dropout",
        "dropout-modes",
        "if not training or self.p == 0:",
        "if self.p == 0:",
    ),
    _m("training= argument ignored", "dropout", "dropout-modes", "if training is None:", "if True:"),
    _m(
        "training= argument changes the mode",
        "dropout",
        "dropout-modes",
        "if not training or self.p == 0:",
        "self.training = bool(training)\n        if not training or self.p == 0:",
    ),
    _m("p == 1 divides 0 by 0", "dropout", "dropout-edge-p", "if self.p == 1:", "if False:"),
    _m("p not validated", "dropout", "dropout-invalid-p", "or not 0 <= p <= 1:", ":"),
    _m(
        "same mask every call",
        "dropout",
        "dropout-training-values",
        "np.random.random(x.shape) < keep_prob",
        "np.random.default_rng(0).random(x.shape) < keep_prob",
    ),
    # Sequential
    _m(
        "layers applied in reverse",
        "sequential",
        "sequential-container sequential-forward-order sequential-hidden-deck-mlp-reference "
        "sequential-hidden-nested-modes sequential-mlp-784-256-10 sequential-train-eval",
        "for layer in self.layers:\n            x = layer(x)",
        "for layer in reversed(self.layers):\n            x = layer(x)",
    ),
    _m(
        "shared parameters listed twice", "sequential", "sequential-parameters", "if id(param) not in seen:", "if True:"
    ),
    _m(
        "parameters de-duplicated by value",
        "sequential",
        "sequential-parameters",
        "if id(param) not in seen:",
        "if not any(np.array_equal(param.data, q.data) for q in params):",
    ),
    _m(
        "parameters only from Linear layers",
        "sequential",
        "sequential-parameters",
        "for param in layer.parameters():",
        "for param in (layer.parameters() if isinstance(layer, Linear) else []):",
    ),
    _m(
        "train() not passed on",
        "sequential",
        "sequential-hidden-deck-mlp-reference sequential-hidden-nested-modes sequential-mlp-784-256-10 "
        "sequential-train-eval",
        "layer.train(mode)",
        "pass",
    ),
    _m(
        "train() passes on True whatever the mode",
        "sequential",
        "sequential-hidden-deck-mlp-reference sequential-hidden-nested-modes sequential-mlp-784-256-10 "
        "sequential-train-eval",
        "layer.train(mode)",
        "layer.train()",
    ),
    _m(
        "eval() returns None",
        "sequential",
        "sequential-hidden-nested-modes sequential-train-eval",
        "            layer.train(mode)\n        return self",
        "            layer.train(mode)",
    ),
    _m(
        "train() sets the class attribute",
        "sequential",
        "sequential-hidden-nested-modes",
        "        self.training = bool(mode)\n        for layer in self.layers:",
        "        type(self).training = bool(mode)\n        for layer in self.layers:",
    ),
    # MSELoss
    _m(
        "MSE sums instead of averaging",
        "mse",
        "mse-forward mse-hidden-reference-outputs",
        MSE_RETURN,
        "return Tensor(np.sum(difference * difference))",
    ),
    _m(
        "MSE without the square",
        "mse",
        "mse-forward mse-hidden-reference-outputs",
        MSE_RETURN,
        "return Tensor(np.mean(np.abs(difference)))",
    ),
    _m(
        "MSE returns float64",
        "mse",
        "mse-forward mse-hidden-reference-outputs",
        MSE_RETURN,
        "return Tensor(np.mean(difference * difference), dtype=np.float64)",
    ),
    _m(
        "MSE returns a Python float",
        "mse",
        "mse-forward mse-hidden-reference-outputs",
        MSE_RETURN,
        "return float(np.mean(difference * difference))",
    ),
    _m(
        "MSE subtracts in place",
        "mse",
        "mse-forward mse-hidden-reference-outputs",
        "difference = pred.data - target",
        "difference = pred.data\n        difference -= target",
    ),
    _m(
        "MSE averages over the last axis only",
        "mse",
        "mse-forward mse-hidden-reference-outputs",
        MSE_RETURN,
        "return Tensor(np.mean(difference * difference, axis=-1))",
    ),
    # CrossEntropyLoss
    _m(
        "log_softmax without the max shift",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-log-softmax-stable",
        LOG_SOFTMAX_SHIFT,
        "shifted = logits",
    ),
    _m(
        "log of the softmax",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-log-softmax-stable",
        LOG_SOFTMAX_RETURN,
        "return np.log(np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True))",
    ),
    _m(
        "log of the softmax without the shift",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-log-softmax-stable",
        LOG_SOFTMAX_RETURN,
        "return np.log(np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True))",
    ),
    _m(
        "log_softmax sums over axis 0",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-log-softmax "
        "crossentropy-log-softmax-stable crossentropy-targets",
        LOG_SOFTMAX_RETURN,
        "return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))",
    ),
    _m(
        "cross-entropy averages over the classes",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-targets",
        CE_RETURN,
        "return Tensor(-log_probs[np.arange(len(indices)), indices].sum() / logits.shape[1])",
    ),
    _m(
        "cross-entropy sums over the batch",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-targets",
        CE_RETURN,
        "return Tensor(-np.sum(log_probs[np.arange(len(indices)), indices]))",
    ),
    _m(
        "target index off by one",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs",
        CE_RETURN,
        "return Tensor(-np.mean(log_probs[np.arange(len(indices)), indices - 1]))",
    ),
    _m(
        "cross-entropy without the minus",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-targets",
        CE_RETURN,
        "return Tensor(np.mean(log_probs[np.arange(len(indices)), indices]))",
    ),
    _m(
        "targets not cast to int64",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-targets",
        "return values.astype(np.int64)",
        "return values",
    ),
    _m(
        "bounds check lets C through",
        "crossentropy",
        "crossentropy-targets",
        "(values >= classes)",
        "(values > classes)",
    ),
    _m(
        "negative targets accepted",
        "crossentropy",
        "crossentropy-targets",
        "outside = (values < 0) | (values >= classes)",
        "outside = values >= classes",
    ),
    _m(
        "fractional targets truncated",
        "crossentropy",
        "crossentropy-targets",
        "whole = np.isfinite(values) & (values == np.round(values))",
        "whole = np.isfinite(values)",
    ),
    _m(
        "range error names no target",
        "crossentropy",
        "crossentropy-targets",
        'f"CrossEntropyLoss: target {int(values[position])} at position {position} is not a class index "',
        'f"CrossEntropyLoss: the target at position {position} is not a class index "',
    ),
    _m(
        "range error names the target as a float",
        "crossentropy",
        "crossentropy-targets",
        "target {int(values[position])} at position",
        "target {values[position]} at position",
    ),
    _m(
        "log_softmax in float64",
        "crossentropy",
        "crossentropy-log-softmax crossentropy-log-softmax-stable",
        LOG_SOFTMAX_SHIFT,
        "shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)",
    ),
    _m(
        "Tensor targets not unwrapped",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs crossentropy-targets",
        "values = target.data if isinstance(target, Tensor) else np.asarray(target)",
        "values = np.asarray(target)",
    ),
    _m("target shape not checked", "crossentropy", "crossentropy-targets", "if values.shape != (n,):", "if False:"),
    _m(
        "cross-entropy indexes log_probs[:, indices]",
        "crossentropy",
        "crossentropy-forward crossentropy-hidden-reference-outputs",
        CE_RETURN,
        "return Tensor(-np.mean(log_probs[:, indices]))",
    ),
    _m(
        "boolean targets accepted",
        "crossentropy",
        "crossentropy-targets",
        'values.dtype.kind not in "iu"',
        'values.dtype.kind not in "iub"',
    ),
    _m(
        "infinite targets pass as whole numbers",
        "crossentropy",
        "crossentropy-targets",
        "whole = np.isfinite(values) & (values == np.round(values))",
        "whole = values == np.round(values)",
    ),
    # BinaryCrossEntropyLoss
    _m("BCE without the clip", "bce", "bce-clipped bce-hidden-reference-outputs", BCE_CLIP, "p = probs.data"),
    _m(
        "BCE clips only near 0",
        "bce",
        "bce-clipped bce-hidden-reference-outputs",
        BCE_CLIP,
        "p = np.clip(probs.data, self.eps, 1)",
    ),
    _m(
        "BCE clips only near 1",
        "bce",
        "bce-clipped bce-hidden-reference-outputs",
        BCE_CLIP,
        "p = np.clip(probs.data, 0, 1 - self.eps)",
    ),
    _m("BCE eps 1e-3", "bce", "bce-clipped bce-hidden-reference-outputs", BCE_EPS, "eps: float = 1e-3"),
    _m(
        "BCE eps 1e-7, float32 rounds 1 - eps to 1 - 1.19e-7",
        "bce",
        "bce-clipped bce-hidden-reference-outputs",
        BCE_EPS,
        "eps: float = 1e-7",
    ),
    _m(
        "BCE eps 1e-8 rounds 1 - eps to 1",
        "bce",
        "bce-clipped bce-hidden-reference-outputs",
        BCE_EPS,
        "eps: float = 1e-8",
    ),
    _m(
        "BCE without the minus",
        "bce",
        "bce-clipped bce-forward bce-hidden-reference-outputs",
        "Tensor(-np.mean(target * np.log(p)",
        "Tensor(np.mean(target * np.log(p)",
    ),
    _m(
        "BCE rounds soft targets",
        "bce",
        "bce-clipped bce-forward bce-hidden-reference-outputs",
        BCE_CLIP,
        BCE_CLIP + "\n        target = np.round(target)",
    ),
    _m(
        "BCE averages over the first axis only",
        "bce",
        "bce-clipped bce-forward bce-hidden-reference-outputs",
        "Tensor(-np.mean(target * np.log(p) + (1 - target) * np.log(1 - p)))",
        "Tensor(-np.mean(target * np.log(p) + (1 - target) * np.log(1 - p), axis=0))",
    ),
    _m(
        "BCE swaps the two logs",
        "bce",
        "bce-clipped bce-forward bce-hidden-reference-outputs",
        "target * np.log(p) + (1 - target) * np.log(1 - p)",
        "target * np.log(1 - p) + (1 - target) * np.log(p)",
    ),
    # no_grad
    _m(
        "no_grad restores True, not the previous mode",
        "nograd",
        "nograd-context nograd-hidden-inference",
        NO_GRAD_EXIT,
        "GradMode.enabled = True",
    ),
    _m(
        "no_grad never switches recording off",
        "nograd",
        "nograd-context nograd-hidden-inference",
        "self.previous = GradMode.enabled\n        GradMode.enabled = False",
        "self.previous = GradMode.enabled",
    ),
    _m(
        "no_grad keeps the mode it found on the class: a nested one overwrites the outer's",
        "nograd",
        "nograd-context nograd-hidden-inference",
        "self.previous = GradMode.enabled",
        "no_grad.previous = GradMode.enabled",
    ),
    # OpGrads
    _m("unbroadcast does not sum", "ops", "ops-unbroadcast", UNBROADCAST_SUM, "return grad"),
    _m(
        "unbroadcast sums the stretched axes counted from the left of the gradient",
        "ops",
        "ops-unbroadcast",
        "stretched = tuple(extra + axis for axis",
        "stretched = tuple(axis for axis",
    ),
    _m(
        "unbroadcast sums only the missing leading axes",
        "ops",
        "ops-unbroadcast",
        UNBROADCAST_SUM,
        "return grad.sum(axis=tuple(range(extra))).reshape(shape)",
    ),
    _m(
        "sub gives +grad to b",
        "ops",
        "ops-elementwise-rules",
        "return grad, -grad",
        "return grad, grad",
    ),
    _m(
        "mul gradients swapped",
        "ops",
        "ops-elementwise-rules",
        "return grad * b, grad * a",
        "return grad * a, grad * b",
    ),
    _m(
        "division rule's sign for b",
        "ops",
        "ops-elementwise-rules",
        DIV_RULE,
        "return grad / b, grad * out / b",
    ),
    _m(
        "matmul gradient for a not transposed",
        "ops",
        "ops-matmul-rule",
        MATMUL_GRAD_A,
        "grad_a = grad2 @ b2",
    ),
    _m(
        "matmul gradient for b transposes every axis (.T)",
        "ops",
        "ops-matmul-rule",
        MATMUL_GRAD_B,
        "grad_b = a2.T @ grad2",
    ),
    _m(
        "mean's gradient not divided by the count",
        "ops",
        "ops-reduce-reshape-rules",
        MEAN_RULE,
        "return (grad,)",
    ),
    _m(
        "sum's gradient expands the axis also with keepdims",
        "ops",
        "ops-reduce-reshape-rules",
        "if axis is not None and not keepdims:",
        "if axis is not None:",
    ),
    _m(
        "transpose's gradient swaps the last two axes whatever dims were swapped",
        "ops",
        "ops-reduce-reshape-rules",
        "np.swapaxes(grad, dim0, dim1)",
        "np.swapaxes(grad, -2, -1)",
    ),
    # the engine
    _m(
        "leaf gradients overwritten, not accumulated",
        "backward",
        "backward-accumulate-order-depth backward-errors-and-freeing backward-hidden-accumulate-zero",
        LEAF_GRAD,
        "tensor.grad = Tensor(grad.copy())",
    ),
    _m(
        "a Tensor with several consumers keeps only the last gradient",
        "backward",
        "backward-accumulate-order-depth backward-broadcasting backward-chain-rule backward-errors-and-freeing "
        "backward-hidden-accumulate-zero",
        "grads[id(inp)] = grads[id(inp)] + inp_grad if id(inp) in grads else inp_grad",
        "grads[id(inp)] = inp_grad",
    ),
    _m(
        "graph_order lists a Tensor once per path to it",
        "backward",
        "backward-accumulate-order-depth backward-chain-rule backward-errors-and-freeing "
        "backward-hidden-accumulate-zero",
        "if inp is not None and id(inp) not in seen:",
        "if inp is not None:",
    ),
    _m(
        "graph_order breadth first: a Tensor passes its gradient on before all its consumers have",
        "backward",
        "backward-accumulate-order-depth backward-broadcasting backward-chain-rule",
        GRAPH_ORDER,
        """order, queue, seen = [], [self], {id(self)}
        while queue:
            tensor = queue.pop(0)
            order.append(tensor)
            for inp in tensor.grad_fn.inputs if tensor.grad_fn else ():
                if inp is not None and id(inp) not in seen:
                    seen.add(id(inp))
                    queue.append(inp)
        return order[::-1]""",
    ),
    _m(
        "backward visits graph_order front to back",
        "backward",
        "backward-accumulate-order-depth backward-broadcasting backward-chain-rule backward-errors-and-freeing "
        "backward-hidden-accumulate-zero backward-hidden-nonscalar-error",
        "for tensor in reversed(self.graph_order()):",
        "for tensor in self.graph_order():",
    ),
    _m(
        "backward() without a gradient only for 0-d Tensors",
        "backward",
        "backward-accumulate-order-depth backward-chain-rule backward-hidden-nonscalar-error",
        "if self.size != 1:",
        "if self.ndim != 0:",
    ),
    _m(
        "graph freed only when retain_graph=True",
        "backward",
        "backward-errors-and-freeing",
        "if not retain_graph:",
        "if retain_graph:",
    ),
    _m(
        "graph never freed",
        "backward",
        "backward-errors-and-freeing",
        "                tensor.grad_fn.release()",
        "                pass",
    ),
    # activations
    _m(
        "sigmoid's gradient s instead of s (1 - s)",
        "activation",
        "activation-grads",
        SIGMOID_RULE,
        "return (grad * out,)",
    ),
    _m(
        "sigmoid's gradient from exp(-x)",
        "activation",
        "activation-grads",
        SIGMOID_RULE,
        "return (grad * np.exp(-x) / (1 + np.exp(-x)) ** 2,)",
    ),
    _m(
        "tanh's gradient 1 - x**2",
        "activation",
        "activation-grads",
        "return (grad * (1 - out * out),)",
        "return (grad * (1 - x * x),)",
    ),
    _m(
        "ReLU's gradient scaled by the output",
        "activation",
        "activation-grads",
        "return (grad * (x > 0),)",
        "return (grad * out,)",
    ),
    _m(
        "softmax's gradient diagonal only",
        "activation",
        "activation-grads",
        SOFTMAX_RULE,
        "return (grad * out * (1 - out),)",
    ),
    _m(
        "softmax's gradient sums along the last axis",
        "activation",
        "activation-grads",
        "(grad * out).sum(axis=dim, keepdims=True)",
        "(grad * out).sum(axis=-1, keepdims=True)",
    ),
    # losses
    _m("MSE gradient without the 2", "loss", "loss-grads", MSE_RULE, "return (grad * (pred - target) / pred.size,)"),
    _m(
        "cross-entropy gradient without 1/N",
        "loss",
        "loss-grads loss-hidden-cross-entropy-huge-logits",
        CE_RULE,
        "return (grad * probs,)",
    ),
    _m(
        "cross-entropy gradient from exp of the raw logits",
        "loss",
        "loss-hidden-cross-entropy-huge-logits",
        "probs = np.exp(CrossEntropyLoss.log_softmax(logits))",
        "probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)",
    ),
    _m(
        "cross-entropy subtracts 1 from whole target columns",
        "loss",
        "loss-grads loss-hidden-cross-entropy-huge-logits",
        "probs[np.arange(len(indices)), indices] -= 1",
        "probs[:, indices] -= 1",
    ),
    _m("BCE gradient's sign", "loss", "loss-grads", "grad * (p - target) /", "grad * (target - p) /"),
    # layers
    _m(
        "Linear's bias gradient averaged over the batch",
        "layers",
        "layers-hidden-deck-mlp layers-hidden-shared-parameter layers-linear-grads layers-mlp-end-to-end",
        LINEAR_BIAS,
        "grad2.mean(axis=0)",
    ),
    _m(
        "Linear's weight gradient averaged over the batch",
        "layers",
        "layers-hidden-deck-mlp layers-hidden-shared-parameter layers-linear-grads layers-mlp-end-to-end",
        "grad_weight = np.dot(x2.T, grad2)",
        "grad_weight = np.dot(x2.T, grad2) / len(x2)",
    ),
    _m(
        "Linear's input gradient uses weight, not weight.T",
        "layers",
        "layers-hidden-deck-mlp layers-hidden-shared-parameter layers-linear-grads layers-mlp-end-to-end",
        "grad_x = grad @ weight.T",
        "grad_x = grad @ weight",
    ),
    _m(
        "Dropout's gradient without 1/(1-p)",
        "layers",
        "layers-dropout-mask layers-hidden-deck-mlp",
        DROPOUT_RULE,
        "return (grad * (scale > 0),)",
    ),
    _m(
        "Dropout draws a fresh mask for the backward pass",
        "layers",
        "layers-dropout-mask layers-hidden-deck-mlp",
        DROPOUT_RULE,
        "return (grad * (np.random.random(np.shape(scale)) < (scale > 0).mean()) * scale.max(),)",
    ),
    # optimizers
    _m(
        "Optimizer keeps the iterable it was given",
        "optimizer",
        "optimizer-arguments optimizer-params-zero-grad",
        "self.params = list(params)",
        "self.params = params",
    ),
    _m(
        "zero_grad() fills gradients with zeros",
        "optimizer",
        "optimizer-params-zero-grad",
        "param.grad = None",
        "param.grad = Tensor(np.zeros(param.shape))",
    ),
    _m(
        "Optimizer lets a NaN lr through (value < 0)",
        "optimizer",
        "optimizer-arguments",
        "if not value >= 0.0:",
        "if value < 0.0:",
    ),
    _m(
        "Optimizer refuses lr=0 and weight_decay=0",
        "optimizer",
        "optimizer-arguments optimizer-params-zero-grad",
        "if not value >= 0.0:",
        "if not value > 0.0:",
    ),
    _m(
        "Optimizer accepts an empty parameter list",
        "optimizer",
        "optimizer-arguments",
        "if not self.params:",
        "if self.params is None:",
    ),
    _m(
        "SGD's momentum buffer dampened by 1 - momentum",
        "sgd",
        "sgd-hidden-trajectories sgd-momentum-weight-decay",
        SGD_BUFFER,
        SGD_BUFFER.replace("+ g", "+ (1 - self.momentum) * g"),
    ),
    _m(
        "SGD subtracts the weight decay from the gradient",
        "sgd",
        "sgd-hidden-trajectories sgd-momentum-weight-decay",
        SGD_DECAY,
        SGD_DECAY.replace("g + self", "g - self"),
    ),
    _m(
        "SGD looks the buffer up in self.state, not in state[p]",
        "sgd",
        "sgd-hidden-trajectories sgd-momentum-weight-decay",
        'if "momentum_buffer" in state:',
        'if "momentum_buffer" in self.state:',
    ),
    _m(
        "SGD does not skip a parameter whose grad is None",
        "sgd",
        "sgd-hidden-trajectories sgd-momentum-weight-decay sgd-plain",
        SKIP_NONE + "g = p.grad.data\n            if self.weight_decay:\n                " + SGD_DECAY,
        "g = p.grad.data\n            if self.weight_decay:\n                " + SGD_DECAY,
    ),
    _m(
        "SGD accepts a negative momentum",
        "sgd",
        "sgd-momentum-weight-decay",
        "if not momentum >= 0.0:",
        "if momentum > 1.0:",
    ),
    _m(
        "SGD's weight decay added after the momentum buffer",
        "sgd",
        "sgd-hidden-trajectories sgd-momentum-weight-decay",
        "p.data -= self.lr * g\n",
        "p.data -= self.lr * (g + self.weight_decay * p.data)\n",
    ),
    _m(
        "Adam without the first moment's bias correction",
        "adam",
        "adam-first-steps adam-hidden-trajectories adam-options",
        ADAM_STEP,
        'p.data -= self.lr * state["exp_avg"] / denom',
    ),
    _m(
        "Adam's eps inside the square root",
        "adam",
        "adam-hidden-trajectories adam-options",
        ADAM_DENOM,
        'denom = np.sqrt(state["exp_avg_sq"] / (1 - beta2**t) + self.eps)',
    ),
    _m(
        "Adam's eps added before the bias correction",
        "adam",
        "adam-hidden-trajectories adam-options",
        ADAM_DENOM,
        'denom = (np.sqrt(state["exp_avg_sq"]) + self.eps) / (1 - beta2**t) ** 0.5',
    ),
    _m(
        "Adam's second moment averages |g|, not g * g",
        "adam",
        "adam-first-steps adam-hidden-trajectories adam-options",
        'state["exp_avg_sq"] + (1 - beta2) * g * g',
        'state["exp_avg_sq"] + (1 - beta2) * np.abs(g)',
    ),
    _m(
        "Adam's step count starts at 1",
        "adam",
        "adam-first-steps adam-hidden-trajectories adam-options",
        "state.update(step=0,",
        "state.update(step=1,",
    ),
    _m("Adam accepts a beta of 1", "adam", "adam-options", "if not 0.0 <= beta < 1.0:", "if not 0.0 <= beta <= 1.0:"),
    _m(
        "Adam drops its weight decay",
        "adam",
        "adam-hidden-trajectories adam-options",
        "self.update(p, g)",
        "self.update(p, p.grad.data)",
    ),
    _m(
        "Adam does not skip a parameter whose grad is None",
        "adam",
        "adam-first-steps adam-hidden-trajectories",
        SKIP_NONE + "g = p.grad.data\n            if self.weight_decay:\n                " + ADAM_DECAY,
        "g = p.grad.data\n            if self.weight_decay:\n                " + ADAM_DECAY,
    ),
    _m(
        "Adam divides by 1 - beta2**t without its square root",
        "adam",
        "adam-first-steps adam-hidden-trajectories adam-options",
        "(1 - beta2**t) ** 0.5",
        "(1 - beta2**t)",
    ),
    _m(
        "AdamW's decay without the learning rate",
        "adamw",
        "adamw-decoupled adamw-hidden-trajectories",
        ADAMW_SHRINK,
        "p.data *= 1 - self.weight_decay",
    ),
    _m(
        "AdamW shrinks after Adam's step",
        "adamw",
        "adamw-decoupled adamw-hidden-trajectories",
        ADAMW_SHRINK + "\n            self.update(p, p.grad.data)",
        "self.update(p, p.grad.data)\n            " + ADAMW_SHRINK,
    ),
    _m(
        "AdamW decays parameters without a gradient",
        "adamw",
        "adamw-decoupled adamw-hidden-trajectories",
        SKIP_NONE + ADAMW_SHRINK,
        ADAMW_SHRINK + "\n            " + SKIP_NONE.strip(),
    ),
    _m(
        "AdamW also adds the decay to the gradient",
        "adamw",
        "adamw-decoupled adamw-hidden-trajectories",
        "self.update(p, p.grad.data)",
        "self.update(p, p.grad.data + self.weight_decay * p.data)",
    ),
    # module 07 Training
    _m(
        "len(dataset) counts the arrays",
        "dataset",
        "dataset-basics dataset-hidden-indexing",
        "return len(self.arrays[0])",
        "return len(self.arrays)",
    ),
    _m(
        "TensorDataset accepts arrays of different lengths",
        "dataset",
        "dataset-basics",
        "or len({shape[0] for shape in shapes}) != 1:",
        "or len({shape[0] for shape in shapes}) < 1:",
    ),
    _m(
        "a sample as a list",
        "dataset",
        "dataset-basics dataset-hidden-indexing",
        "return tuple(a[index] for a in self.arrays)",
        "return [a[index] for a in self.arrays]",
    ),
    _m(
        "len(loader) ignores drop_last",
        "dataloader",
        "dataloader-drop-last dataloader-hidden-properties",
        "return full + (1 if rest and not self.drop_last else 0)",
        "return full + (1 if rest else 0)",
    ),
    _m(
        "the short last batch is always dropped",
        "dataloader",
        "dataloader-batches dataloader-drop-last dataloader-hidden-properties dataloader-shuffle",
        "return full + (1 if rest and not self.drop_last else 0)",
        "return full",
    ),
    _m(
        "shuffle=True shuffles nothing",
        "dataloader",
        "dataloader-shuffle dataloader-hidden-properties",
        "order = self.rng.permutation(len(self.dataset)) if self.shuffle else np.arange(len(self.dataset))",
        "order = np.arange(len(self.dataset))",
    ),
    _m(
        "the same order every epoch",
        "dataloader",
        "dataloader-shuffle dataloader-hidden-properties",
        "order = self.rng.permutation(len(self.dataset))",
        "order = np.random.default_rng(self.seed).permutation(len(self.dataset))",
    ),
    _m(
        "the seed is ignored",
        "dataloader",
        "dataloader-shuffle dataloader-hidden-properties",
        "self.rng = np.random.default_rng(seed)",
        "self.rng = np.random.default_rng()",
    ),
    _m(
        "each batch one sample short",
        "dataloader",
        "dataloader-batches dataloader-shuffle dataloader-drop-last dataloader-hidden-properties",
        "order[start : start + self.batch_size]",
        "order[start : start + self.batch_size - 1]",
    ),
    _m(
        "__iter__ ignores drop_last",
        "dataloader",
        "dataloader-drop-last dataloader-hidden-properties",
        "for start in range(0, len(self) * self.batch_size, self.batch_size):",
        "for start in range(0, len(self.dataset), self.batch_size):",
    ),
    _m(
        "gzip's magic number byte-swapped",
        "idx",
        "idx-roundtrip idx-hidden-types",
        'if raw[:2] == b"\\x1f\\x8b":',
        'if raw[:2] == b"\\x8b\\x1f":',
    ),
    _m(
        "IDX sizes read little-endian",
        "idx",
        "idx-roundtrip idx-errors idx-hidden-types",
        'shape = struct.unpack(f">{ndim}I", raw[4:header])',
        'shape = struct.unpack(f"<{ndim}I", raw[4:header])',
    ),
    _m(
        "values left big-endian",
        "idx",
        "idx-roundtrip idx-hidden-types",
        '.reshape(shape).astype(dtype.newbyteorder("="))',
        ".reshape(shape)",
    ),
    _m(
        "trailing bytes accepted",
        "idx",
        "idx-errors",
        "if len(raw) - header != expected:",
        "if len(raw) - header < expected:",
    ),
    _m("a header cut short is not checked", "idx", "idx-hidden-types", "if len(raw) < header:", "if len(raw) < 4:"),
    _m(
        "train_epoch leaves the model in eval mode",
        "train",
        "train-epoch",
        "model.train()\n    total, samples = 0.0, 0",
        "total, samples = 0.0, 0",
    ),
    _m(
        "train_epoch never zeroes the gradients",
        "train",
        "train-epoch train-hidden-trajectory",
        "optimizer.zero_grad()\n        loss = loss_fn(model(x), y)",
        "loss = loss_fn(model(x), y)",
    ),
    _m(
        "train_epoch returns the last batch's loss",
        "train",
        "train-epoch train-hidden-trajectory",
        "return total / samples",
        "return float(loss.data)",
    ),
    _m(
        "train_epoch sums batch means per sample count",
        "train",
        "train-epoch",
        "total += float(loss.data) * x.shape[0]",
        "total += float(loss.data)",
    ),
    _m(
        "evaluate with dropout on",
        "evaluate",
        "evaluate-modes evaluate-hidden-dropout",
        "model.eval()\n    correct, samples = 0, 0",
        "correct, samples = 0, 0",
    ),
    _m(
        "evaluate always hands back a training model",
        "evaluate",
        "evaluate-modes",
        "model.train(was_training)",
        "model.train()",
    ),
    _m("evaluate records a graph", "evaluate", "evaluate-modes", "with no_grad():", "if True:"),
    _m(
        "evaluate divides by the number of batches",
        "evaluate",
        "evaluate-accuracy evaluate-hidden-dropout",
        "samples += len(predicted)",
        "samples += 1",
    ),
    _m(
        "evaluate's argmax over the batch",
        "evaluate",
        "evaluate-accuracy evaluate-hidden-dropout evaluate-modes",
        "np.argmax(model(x).data, axis=-1)",
        "np.argmax(model(x).data, axis=0)",
    ),
    _m(
        "check_parameters_update keeps no copy",
        "updates",
        "updates-names updates-hidden-small-steps",
        "before = [tensor.data.copy() for _, tensor, _ in tensors]",
        "before = [tensor.data for _, tensor, _ in tensors]",
    ),
    _m(
        "check_parameters_update keeps stale gradients",
        "updates",
        "updates-names",
        "optimizer.zero_grad()\n    loss_fn(model(x), y).backward()",
        "loss_fn(model(x), y).backward()",
    ),
    _m(
        "check_parameters_update looks at parameters() only",
        "updates",
        "updates-names updates-hidden-small-steps",
        "tensors = named_tensors(model)",
        'tensors = [(f"parameter {i}", p, True) for i, p in enumerate(model.parameters())]',
    ),
    _m(
        "check_parameters_update compares with a tolerance",
        "updates",
        "updates-hidden-small-steps",
        "if np.array_equal(tensor.data, old):",
        "if np.allclose(tensor.data, old):",
    ),
]


def test_mutants_cover_linear_dropout_and_sequential():
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    per_component = {c: sum(m.component == c for m in MUTANTS) for c in ("linear", "dropout", "sequential")}
    assert min(per_component.values()) >= 6 and sum(per_component.values()) >= 15, per_component


def test_mutants_cover_every_loss():
    per_component = {c: sum(m.component == c for m in MUTANTS) for c in COURSE.components["04_losses"]}
    assert min(per_component.values()) >= 5 and sum(per_component.values()) >= 13, per_component


def test_mutants_cover_every_autograd_component():
    per_component = {c: sum(m.component == c for m in MUTANTS) for c in COURSE.components["05_autograd"]}
    assert min(per_component.values()) >= 2 and sum(per_component.values()) >= 30, per_component


def test_mutants_cover_every_optimizer_component():
    per_component = {c: sum(m.component == c for m in MUTANTS) for c in COURSE.components["06_optimizers"]}
    assert min(per_component.values()) >= 4 and sum(per_component.values()) >= 20, per_component


def test_mutants_cover_every_training_component():
    per_component = {c: sum(m.component == c for m in MUTANTS) for c in COURSE.components["07_training"]}
    assert min(per_component.values()) >= 3 and sum(per_component.values()) >= 14, per_component


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_student_bug_loses_points_on_its_component(mutant, tmp_path):
    module = COMPONENTS[mutant.component]
    verdicts = run_checks(module, student_package(tmp_path, module, mutant.edits))
    assert_as_recorded(f"mutant {mutant.name}", verdicts)
    caught = failed(verdicts)
    assert any(name.startswith(f"{mutant.component}-") for name in caught), caught
    # graded in isolation: a bug is punished on its own component only, and on the checks of a component without
    # code of its own, which check the student's components together (module 02's activation contract)
    shared = tuple(f"{c}-" for c in COURSE.components[module] if c not in _solution_cell_ids(module))
    assert all(name.startswith((f"{mutant.component}-", *shared)) for name in caught), caught
    assert caught == mutant.caught
    for name in caught:
        feedback = verdicts[name].feedback
        assert verdicts[name].score == 0.0
        assert feedback.startswith(f"{CHECKS_BY_NAME[name].title}: failed.\n- ")
        assert feedback.endswith(f"\nHint: {CHECKS_BY_NAME[name].hint}")
        assert "Traceback" not in feedback and len(feedback.splitlines()) <= judging.MAX_PROBLEMS + 3


# --------------------------------------------------------------------------- (c) valid variants keep full marks


def _v(module: str, name: str, *old_new: str):
    return pytest.param(module, list(zip(old_new[::2], old_new[1::2], strict=True)), id=name)


DROPOUT_MASK = "np.random.random(x.shape) < keep_prob"
INIT = "np.random.randn(in_features, out_features) * scale"
VALID = [
    _v("03_layers", "dropout mask from np.random.rand", DROPOUT_MASK, "np.random.rand(*x.shape) < keep_prob"),
    _v(
        "03_layers",
        "dropout mask from np.random.binomial",
        DROPOUT_MASK,
        "np.random.binomial(1, keep_prob, x.shape).astype(bool)",
    ),
    _v("03_layers", "dropout keeps where uniform >= p", DROPOUT_MASK, "np.random.uniform(size=x.shape) >= self.p"),
    _v(
        "03_layers",
        "dropout scales with np.where",
        "return Tensor(x.data * mask / keep_prob)",
        "return Tensor(np.where(mask, x.data / keep_prob, 0))",
    ),
    _v(
        "03_layers",
        "a fresh unseeded Generator per dropout call",
        DROPOUT_MASK,
        "np.random.default_rng().random(x.shape) < keep_prob",
    ),
    _v("03_layers", "init with np.random.normal", INIT, "np.random.normal(0.0, scale, (in_features, out_features))"),
    _v(
        "03_layers",
        "one module-level default_rng Generator",
        "import numpy as np\n",
        "import numpy as np\n\n_RNG = np.random.default_rng()\n",
        INIT,
        "_RNG.standard_normal((in_features, out_features)) * scale",
        DROPOUT_MASK,
        "_RNG.random(x.shape) < keep_prob",
    ),
    _v(
        "03_layers",
        "forward in float64",
        "output = x.data @ self.weight.data",
        "output = x.data.astype(np.float64) @ self.weight.data.astype(np.float64)",
    ),
    _v(
        "02_activations",
        "sigmoid via tanh",
        "np.where(x.data >= 0, 1 / (1 + e), e / (1 + e))",
        "0.5 * (1 + np.tanh(x.data / 2))",
    ),
    _v(
        "02_activations",
        "softmax via log-sum-exp",
        "Tensor(e / e.sum(axis=self.dim, keepdims=True))",
        "Tensor(np.exp(shifted - np.log(e.sum(axis=self.dim, keepdims=True))))",
    ),
    _v("01_tensor", "Tensor copies its data", "self.data = np.asarray(data,", "self.data = np.array(data,"),
    _v("04_losses", "MSE via np.square", MSE_RETURN, "return Tensor(np.square(difference).mean())"),
    _v("04_losses", "MSE via ** 2", MSE_RETURN, "return Tensor(np.mean(difference**2))"),
    _v(
        "04_losses",
        "MSE in float64",
        "difference = pred.data - target",
        "difference = pred.data.astype(np.float64) - target",
    ),
    _v(
        "04_losses",
        "log_softmax via np.logaddexp.reduce",
        LOG_SOFTMAX_RETURN,
        "return shifted - np.logaddexp.reduce(shifted, axis=-1, keepdims=True)",
    ),
    _v(
        "04_losses",
        "log_softmax with the row maximum from np.max(...)[..., None]",
        LOG_SOFTMAX_SHIFT,
        "shifted = logits - np.max(logits, axis=-1)[..., None]",
    ),
    _v(
        "04_losses",
        "cross-entropy picks with take_along_axis",
        CE_RETURN,
        "return Tensor(-np.take_along_axis(log_probs, indices[:, None], axis=1).mean())",
    ),
    _v(
        "04_losses",
        "cross-entropy through a one-hot matrix",
        CE_RETURN,
        "return Tensor(-(log_probs * np.eye(logits.shape[1])[indices]).sum(axis=1).mean())",
    ),
    _v(
        "04_losses",
        "range error in other words",
        'f"CrossEntropyLoss: target {int(values[position])} at position {position} is not a class index "',
        'f"CrossEntropyLoss: class index {int(values[position])} (position {position}) is out of range "',
        'f"for {classes} classes (valid: 0 to {classes - 1})"',
        'f"[0, {classes})"',
    ),
    _v(
        "04_losses",
        "BCE clips with np.minimum and np.maximum",
        BCE_CLIP,
        "p = np.minimum(np.maximum(probs.data, self.eps), 1 - self.eps)",
    ),
    _v("04_losses", "BCE with log1p", "(1 - target) * np.log(1 - p)", "(1 - target) * np.log1p(-p)"),
    _v("04_losses", "BCE eps 2**-20", BCE_EPS, "eps: float = 2.0**-20"),
    _v("04_losses", "BCE in float64", BCE_CLIP, "p = np.clip(probs.data.astype(np.float64), self.eps, 1 - self.eps)"),
    _v(
        "04_losses",
        "cross-entropy in float64",
        "log_probs = self.log_softmax(logits.data)",
        "log_probs = self.log_softmax(logits.data.astype(np.float64))",
    ),
    _v(
        "04_losses",
        "class indices cast by np.asarray",
        "return values.astype(np.int64)",
        "return np.asarray(values, dtype=np.int64)",
    ),
    _v("05_autograd", "ReLU's gradient where x >= 0", "return (grad * (x > 0),)", "return (grad * (x >= 0),)"),
    _v("05_autograd", "ReLU's gradient masked where out > 0", "return (grad * (x > 0),)", "return (grad * (out > 0),)"),
    _v("05_autograd", "sigmoid's gradient as out - out**2", SIGMOID_RULE, "return (grad * (out - out**2),)"),
    _v("05_autograd", "tanh's gradient with out**2", "(1 - out * out)", "(1 - out**2)"),
    _v(
        "05_autograd",
        "softmax's gradient expanded",
        SOFTMAX_RULE,
        "return (out * grad - out * (grad * out).sum(axis=dim, keepdims=True),)",
    ),
    _v("05_autograd", "division's gradient for b as -grad a / b**2", DIV_RULE, "return grad / b, -grad * a / (b * b)"),
    _v(
        "05_autograd", "mean's gradient divided by the count", MEAN_RULE, "return (grad / (np.size(a) / np.size(out)),)"
    ),
    _v(
        "05_autograd",
        "unbroadcast one axis at a time",
        UNBROADCAST_BODY,
        """while grad.ndim > len(shape):
            grad = grad.sum(axis=0)
        for axis, size in enumerate(shape):
            if size == 1 and grad.shape[axis] != 1:
                grad = grad.sum(axis=axis, keepdims=True)
        return grad""",
    ),
    _v(
        "05_autograd",
        "matmul's gradient with np.matmul and np.moveaxis",
        MATMUL_GRAD_B,
        "grad_b = np.matmul(np.moveaxis(a2, -1, -2), grad2)",
    ),  # fmt: skip
    _v(
        "05_autograd",
        "leaf gradients added with np.add",
        LEAF_GRAD,
        "tensor.grad = Tensor(np.add(tensor.grad.data, grad))",
    ),
    _v(
        "05_autograd",
        "leaf gradients added as Tensors",
        LEAF_GRAD,
        "tensor.grad = tensor.grad + Tensor(grad)",
    ),
    _v(
        "05_autograd",
        "a leaf's first gradient always copied",
        "tensor.grad = Tensor(grad.copy() if shared else grad)",
        "tensor.grad = Tensor(grad.copy())",
    ),
    _v(
        "05_autograd",
        "graph_order by Kahn's algorithm",
        GRAPH_ORDER,
        """nodes, stack, seen = [], [self], {id(self)}
        while stack:  # every Tensor of the graph
            tensor = stack.pop()
            nodes.append(tensor)
            for inp in tensor.grad_fn.inputs if tensor.grad_fn else ():
                if inp is not None and id(inp) not in seen:
                    seen.add(id(inp))
                    stack.append(inp)
        consumers = {id(t): 0 for t in nodes}
        for t in nodes:
            for inp in t.grad_fn.inputs if t.grad_fn else ():
                if inp is not None:
                    consumers[id(inp)] += 1
        order, ready = [], [self]
        while ready:  # a Tensor is placed once every Tensor computed from it has been
            tensor = ready.pop()
            order.append(tensor)
            for inp in tensor.grad_fn.inputs if tensor.grad_fn else ():
                if inp is not None:
                    consumers[id(inp)] -= 1
                    if consumers[id(inp)] == 0:
                        ready.append(inp)
        return order[::-1]""",
    ),
    _v(
        "05_autograd",
        "cross-entropy's gradient from a shifted softmax",
        "probs = np.exp(CrossEntropyLoss.log_softmax(logits))",
        "e = np.exp(logits - logits.max(axis=1, keepdims=True))\n        probs = e / e.sum(axis=1, keepdims=True)",
    ),
    _v(
        "05_autograd",
        "cross-entropy's gradient minus a one-hot matrix",
        "probs[np.arange(len(indices)), indices] -= 1",
        "probs -= np.eye(probs.shape[1])[indices]",
    ),
    _v(
        "05_autograd",
        "BCE's gradient as two terms",
        "(p - target) / (p * (1 - p))",
        "(-target / p + (1 - target) / (1 - p))",
    ),
    _v(
        "05_autograd",
        "Linear's weight gradient with einsum",
        "grad_weight = np.dot(x2.T, grad2)",
        'grad_weight = np.einsum("ni,no->io", x2, grad2)',
    ),
    _v("06_optimizers", "SGD's step out of place", "p.data -= self.lr * g", "p.data = p.data - self.lr * g"),
    _v(
        "06_optimizers",
        "SGD's momentum buffer from zeros",
        'state["momentum_buffer"] = g.copy()',
        'state["momentum_buffer"] = self.momentum * np.zeros_like(g) + g',
    ),
    _v(
        "06_optimizers",
        "Adam with m_hat and v_hat as in the paper",
        ADAM_DENOM + "\n        " + ADAM_STEP,
        'm_hat = state["exp_avg"] / (1 - beta1**t)\n        v_hat = state["exp_avg_sq"] / (1 - beta2**t)\n'
        "        p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
    ),
    _v(
        "06_optimizers",
        "Adam's first moment as a lerp",
        'state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g',
        'state["exp_avg"] = state["exp_avg"] + (1 - beta1) * (g - state["exp_avg"])',
    ),
    _v(
        "06_optimizers",
        "Adam's bias correction with np.sqrt (float64)",
        "(1 - beta2**t) ** 0.5",
        "np.sqrt(1 - beta2**t)",
    ),
    _v("06_optimizers", "AdamW's decay subtracted", ADAMW_SHRINK, "p.data -= self.lr * self.weight_decay * p.data"),
    _v(
        "06_optimizers",
        "Optimizer refuses NaN with np.isnan",
        "if not value >= 0.0:",
        "if np.isnan(value) or value < 0:",
    ),
    _v(
        "07_training",
        "len(dataset) from the first array's shape",
        "return len(self.arrays[0])",
        "return self.arrays[0].shape[0]",
    ),
    _v(
        "07_training",
        "len(loader) by ceiling division",
        "return full + (1 if rest and not self.drop_last else 0)",
        "return full if self.drop_last else -(-len(self.dataset) // self.batch_size)",
    ),
    _v(
        "07_training",
        "shuffle by sorting random keys",
        "self.rng.permutation(len(self.dataset))",
        "np.argsort(self.rng.random(len(self.dataset)))",
    ),
    _v(
        "07_training",
        "shuffle by choice without replacement",
        "self.rng.permutation(len(self.dataset))",
        "self.rng.choice(len(self.dataset), len(self.dataset), replace=False)",
    ),
    _v(
        "07_training",
        "gzip recognised with its method byte",
        'if raw[:2] == b"\\x1f\\x8b":',
        'if raw[:3] == b"\\x1f\\x8b\\x08":',
    ),
    _v(
        "07_training",
        "train_epoch zeroes the gradients through the model",
        "optimizer.zero_grad()\n        loss = loss_fn(model(x), y)",
        "model.zero_grad()\n        loss = loss_fn(model(x), y)",
    ),
    _v(
        "07_training",
        "train_epoch weights by the labels' length",
        "total += float(loss.data) * x.shape[0]",
        "total += loss.data.item() * len(y.data)",
    ),
    _v(
        "07_training",
        "evaluate's argmax as a method",
        "np.argmax(model(x).data, axis=-1)",
        "model(x).data.argmax(axis=1)",
    ),
    _v(
        "07_training",
        "unchanged tensors found with !=",
        "if np.array_equal(tensor.data, old):",
        "if not np.any(tensor.data != old):",
    ),
]


@pytest.mark.parametrize(("module", "edits"), VALID)
def test_valid_variant_scores_full_marks(module, edits, tmp_path, request):
    verdicts = run_checks(module, student_package(tmp_path, module, edits))
    assert_as_recorded(f"valid {request.node.callspec.id}", verdicts)
    assert {n: v.feedback for n, v in verdicts.items() if not v.passed} == {}
    assert sum(v.score for v in verdicts.values()) == sum(c.points for c in PACKS[module].checks)


# --------------------------------------------------------------------------- (d) fixtures


def _cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (none elsewhere)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return set()
    return set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))


# OpenBLAS's x86-64 kernel families and the instructions each needs (Zen runs Haswell's kernels; Nehalem's round
# these products as Prescott's do). Forcing a kernel the CPU lacks may crash OpenBLAS: only those it runs are forced.
BLAS_KERNELS = {
    "Sandybridge": {"avx"},
    "Haswell": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"},
}
MACHINES = {  # Prescott (SSE3) runs wherever NumPy does, with 1 and 2 threads; the others alternate
    "Prescott-1-thread": {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "1"},
    "Prescott-2-threads": {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "2"},
    **{
        f"{kernel}-{1 + k % 2}-thread{'s' * (k % 2)}": {
            "OPENBLAS_CORETYPE": kernel,
            "OPENBLAS_NUM_THREADS": str(1 + k % 2),
        }
        for k, kernel in enumerate(kernel for kernel, needs in BLAS_KERNELS.items() if needs <= _cpu_flags())
    },
    "numpy-baseline-simd": {"NPY_DISABLE_CPU_FEATURES": "every SIMD target above the baseline"},
}


def _numpy_simd_targets() -> str:
    """NumPy's SIMD targets above its baseline on this machine, as NPY_DISABLE_CPU_FEATURES names them ("" before
    NumPy 2.0, which cannot list them: its default paths run)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:
        return ""
    found = {
        t for signatures in opt_func_info().values() for sig in signatures.values() for t in sig["available"].split()
    }
    return " ".join(sorted(t for t in found if not t.startswith("baseline")))


def _make_fixtures(*args: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "autograde.make_fixtures", *args]
    return subprocess.run(command, cwd=ROOT, env=os.environ | env, capture_output=True, text=True, timeout=120)


def _copy_of_fixtures(tmp_path: Path) -> Path:
    folder = tmp_path / "fixtures"
    shutil.copytree(fixture_io.FIXTURES, folder)
    return folder


def _members(folder: Path, module: str) -> dict[str, np.ndarray]:
    with np.load(folder / f"{module}.npz", allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _edit_manifest(folder: Path, edit) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _put(folder: Path, module: str, member: str, array: np.ndarray, *, checksum: bool = False) -> None:
    """Store `array` as `member` ("probe/in/x") of the module's npz, with its sha256 in the manifest if `checksum`."""
    fixture_io.write_npz(folder / f"{module}.npz", _members(folder, module) | {member: array})
    probe, key = member.split("/", 1)

    def record_checksum(manifest: dict) -> None:
        manifest["modules"][module]["entries"][probe]["arrays"][key]["sha256"] = fixture_io.digest(array)

    if checksum:
        _edit_manifest(folder, record_checksum)


def test_fixtures_are_up_to_date(capsys):
    assert make_fixtures.main(["--check"]) == 0
    assert capsys.readouterr().out.startswith("fixtures are up to date")
    committed = json.loads((fixture_io.FIXTURES / "manifest.json").read_text())
    assert committed["generator_version"] == make_fixtures.GENERATOR_VERSION


@pytest.mark.parametrize("env", MACHINES.values(), ids=MACHINES.keys())
def test_fixtures_hold_under_every_blas_kernel_thread_count_and_numpy_simd_path(env):
    """Matrix products and exp/tanh round differently there (the committed fixtures were made on an AVX-512 CPU:
    5 entries differ in their bytes under the Prescott kernel, 8 on NumPy's baseline); the tolerance absorbs it."""
    if "NPY_DISABLE_CPU_FEATURES" in env:
        env = env | {"NPY_DISABLE_CPU_FEATURES": _numpy_simd_targets()}
    result = _make_fixtures("--check", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("fixtures are up to date")


def test_regenerating_under_another_blas_kernel_keeps_every_committed_byte(tmp_path):
    folder = _copy_of_fixtures(tmp_path)
    result = _make_fixtures("--out", str(folder), OPENBLAS_CORETYPE="Prescott", OPENBLAS_NUM_THREADS="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": 0 regenerated" in result.stdout
    for path in sorted(fixture_io.FIXTURES.iterdir()):
        assert (folder / path.name).read_bytes() == path.read_bytes(), path.name


def test_write_npz_reproduces_the_committed_files_byte_for_byte(tmp_path):
    for module in PACKS:
        fixture_io.write_npz(tmp_path / f"{module}.npz", _members(fixture_io.FIXTURES, module))
        assert (tmp_path / f"{module}.npz").read_bytes() == (fixture_io.FIXTURES / f"{module}.npz").read_bytes()


def test_drift_tolerance_follows_the_arithmetic_and_stays_within_half_the_grading_tolerance():
    specs = {check.probe: check.fixture for pack in PACKS.values() for check in pack.checks}
    eps, subnormal, f32 = 2.0**-23, 2.0**-149, np.dtype(np.float32)
    # 784 + 256 products behind each MLP output: sqrt(1040) roundings of partial sums of the outputs' size
    mlp = fixture_io.drift_tolerance(specs["sequential_hidden_deck_mlp_reference"], f32, 1.5)
    assert mlp == pytest.approx((4 * eps, 4 * (subnormal + eps * 1040**0.5 * 1.5)), rel=1e-12)
    assert mlp[1] < 1e-4 / 3  # the MLP's grading atol
    # Linear(6, 4) would allow 4 * eps * sqrt(6) * 3 = 3.5e-6, more than half its grading atol of 1e-6
    assert fixture_io.drift_tolerance(specs["linear_hidden_reference_outputs"], f32, 3.0) == (4 * eps, 0.5e-6)
    assert fixture_io.drift_tolerance(specs["sigmoid_forward"], f32, 1.0) == (4 * eps, 4 * subnormal)
    assert fixture_io.drift_tolerance(specs["relu_forward"], f32, 1.0) == (0.0, 0.0)  # graded exactly
    # float16 outputs (cast, never computed) are held to half the grading rtol of 1e-6, far below their ulp
    assert fixture_io.drift_tolerance(specs["tensor_creation_dtype"], np.dtype(np.float16), 1.0) == (5e-7, 0.0)


@pytest.mark.parametrize(
    ("module", "probe", "key"),
    [
        ("01_tensor", "tensor_matmul", "mm_1"),
        ("02_activations", "softmax_forward", "x0"),
        ("03_layers", "linear_hidden_reference_outputs", "y"),
        ("03_layers", "sequential_hidden_deck_mlp_reference", "y"),
    ],
)
def test_check_names_an_output_changed_by_a_thousandth_with_its_checksum_updated(module, probe, key, tmp_path, capsys):
    folder, member = _copy_of_fixtures(tmp_path), f"{probe}/out/{key}"
    changed = _members(folder, module)[member].copy()
    at = int(np.argsort(np.abs(changed), axis=None)[changed.size // 2])  # a typical element: the median magnitude
    changed.reshape(-1)[at] *= np.float32(1.001)
    _put(folder, module, member, changed, checksum=True)
    load_fixtures(module, folder)  # the checksums agree: only regenerating catches the change
    assert make_fixtures.main(["--check", "--out", str(folder)]) == 1
    out = capsys.readouterr().out
    where = ", ".join(str(i) for i in np.unravel_index(at, changed.shape))
    head = f"drift: {module}/{probe}\n  out/{key}, committed vs this machine's reference: 1 of {changed.size} elements"
    assert out.count("drift:") == 1 and head in out and out.endswith("1 fixture entries drifted; regenerate them\n")
    shown = rf"at \[{where}\] expected ([0-9.e-]+), got ([0-9.e-]+); tolerance rtol ([0-9.e-]+), atol ([0-9.e-]+)\n"
    found = re.search(rf"max abs error [0-9.e-]+ at \[{where}\];.*{shown}", out)
    assert found, out
    expected, got, rtol, atol = map(float, found.groups())
    assert got / expected == pytest.approx(1.001, abs=1e-5)
    assert atol + rtol * abs(expected) < 1e-3 * abs(expected) / 10  # a thousandth is far beyond the tolerance


def test_check_names_an_edited_manifest(tmp_path):
    def edit(manifest):
        entries = {module: meta["entries"] for module, meta in manifest["modules"].items()}
        entries["02_activations"]["softmax_dim"]["rtol"] = 1e-3
        entries["01_tensor"]["tensor_matmul"]["labels"]["mm_0"] = "edited"
        entries["03_layers"]["linear_parameters"]["arrays"]["out/n_values"]["shape"] = [1]

    folder = _copy_of_fixtures(tmp_path)
    _edit_manifest(folder, edit)
    drifted = make_fixtures.drift(folder)
    assert sorted(drifted) == ["01_tensor/tensor_matmul", "02_activations/softmax_dim", "03_layers/linear_parameters"]
    assert drifted["02_activations/softmax_dim"] == ["manifest rtol: committed 0.001, regenerated 1e-05"]
    assert drifted["03_layers/linear_parameters"] == ["out/n_values: committed <i8 [1], now <i8 []"]
    [labels] = drifted["01_tensor/tensor_matmul"]
    assert labels.startswith("manifest labels: committed {") and "'mm_0': 'edited'" in labels


def test_check_names_an_edited_npz_and_regenerating_rewrites_only_what_drifted(tmp_path):
    folder = _copy_of_fixtures(tmp_path)
    members, y = _members(folder, "03_layers"), "linear_hidden_reference_outputs/out/y"
    _put(folder, "03_layers", y, members[y] + np.float32(1e-3))
    _put(folder, "03_layers", "linear_hidden_no_bias/in/extra", np.zeros(2))
    x = members["dropout_modes/in/x"].copy()
    x[0, 0] = np.nextafter(x[0, 0], np.float32(3))  # inputs are exact: one ulp is a change
    _put(folder, "03_layers", "dropout_modes/in/x", x, checksum=True)
    drifted = make_fixtures.drift(folder)
    assert drifted.pop("03_layers/linear_hidden_reference_outputs") == [
        "out/y: the committed array does not match its sha256 in manifest.json"
    ]
    assert drifted.pop("03_layers/linear_hidden_no_bias") == [
        "03_layers.npz holds arrays manifest.json does not list: linear_hidden_no_bias/in/extra"
    ]
    [dropout] = drifted.pop("03_layers/dropout_modes")
    assert dropout.startswith("in/x, committed vs this machine's reference: 1 of 2000 elements differ") and not drifted
    with pytest.raises(ValueError, match="linear_hidden_reference_outputs/out/y does not match its checksum"):
        load_fixtures("03_layers", folder)

    _, rewritten = make_fixtures.write(folder)
    assert sorted(rewritten) == [
        "03_layers/dropout_modes",
        "03_layers/linear_hidden_no_bias",
        "03_layers/linear_hidden_reference_outputs",
    ]
    assert make_fixtures.drift(folder) == {}
    for module in ("01_tensor", "02_activations"):
        assert (folder / f"{module}.npz").read_bytes() == (fixture_io.FIXTURES / f"{module}.npz").read_bytes()


# --------------------------------------------------------------------------- feedback


def test_grade_reports_probe_errors_and_unreadable_outputs_plainly():
    check = CHECKS_BY_NAME["linear-forward-matches-numpy"]
    fixture = load_fixtures("03_layers")[check.probe]
    verdict = grade(check, None, fixture, "ValueError: cannot matmul (6, 4) @ (3, 4)")
    problem = "your code stopped with an error: ValueError: cannot matmul (6, 4) @ (3, 4)"
    assert verdict == Verdict(False, 0.0, f"{check.title}: failed.\n- {problem}\nHint: {check.hint}")
    verdict = grade(check, {protocol.key(protocol.RAW, "weight"): np.zeros((4, 3), np.float32)}, fixture)
    assert not verdict.passed and "- the results of your code could not be checked (KeyError)" in verdict.feedback


# --------------------------------------------------------------------------- the probe protocol


def test_a_probe_result_round_trips_through_an_npz_with_its_kinds():
    """What a probe records comes back, through an .npz read without pickle as the sandbox returns it, as the same
    outputs by kind and name, decoded: a real probe on the reference package and the builder's every method."""
    with imported_as_tinytorch(None):
        from autograde.probes import common, tensor

        inputs = {k: v.copy() for k, v in _fixtures("01_tensor")["tensor_properties_live"].inputs.items()}
        live = protocol.validate(_through_npz(tensor.tensor_properties_live(inputs)))
        out = common.Outputs()
        out.value("y", np.arange(6, dtype=np.float32).reshape(2, 3))
        out.flag("ok", np.True_)
        out.flag("not_ok", 1)  # only True itself is a met requirement
        out.raises("bad", lambda: int("x"))
        out.raises("fine", lambda: None, message=False)
        out.text("dtype", "float32 µ")
        out.shape("y", (2, 3))
        out.raw("weight", np.ones((2, 2), np.int8))
        out.raw("note", "déjà vu")
        result = protocol.validate(_through_npz(out))
    assert (live.shape, live.text) == (
        {"before": (2, 3), "after": (4, 5, 6)},
        {"dtype_before": "float32", "dtype_after": "float64"},
    )
    assert live.flag == {"numpy_is_data": True} and {k: int(v) for k, v in live.value.items()} == {
        "size_before": 6,
        "ndim_before": 2,
        "size_after": 120,
        "ndim_after": 3,
    }
    assert result.order == (
        ("value", "y"), ("flag", "ok"), ("flag", "not_ok"), ("error", "bad"), ("message", "bad"), ("error", "fine"),
        ("text", "dtype"), ("shape", "y"), ("raw", "weight"), ("raw", "note"),
    )  # fmt: skip
    assert np.array_equal(result.value["y"], np.arange(6).reshape(2, 3)) and result.value["y"].dtype == np.float32
    assert result.flag == {"ok": True, "not_ok": False} and result.shape == {"y": (2, 3)}
    assert result.error == {"bad": "ValueError", "fine": ""} and result.text == {"dtype": "float32 µ"}
    assert result.message == {"bad": "invalid literal for int() with base 10: 'x'"}
    assert protocol.decode_text(result.raw["note"]) == "déjà vu" and result.raw["weight"].dtype == np.int8


MALFORMED = {  # one output of each kind that breaks its encoding, and what validate says about it
    "flag": (np.array(1.0), "should be an int8 scalar 0 or 1, got float64 of shape ()"),
    "flag_vector": (np.ones(3, np.int8), "should be an int8 scalar 0 or 1, got int8 of shape (3,)"),
    "flag_two": (np.array(2, np.int8), "should be an int8 scalar 0 or 1, got int8 of shape ()"),
    "error": (np.array([86.0, 97.0]), "should be a uint8 vector, got float64 of shape (2,)"),
    "message": (np.zeros((2, 2), np.uint8), "should be a uint8 vector, got uint8 of shape (2, 2)"),
    "text": (np.array(7, np.int64), "should be a uint8 vector, got int64 of shape ()"),
    "shape": (np.array([2.0, 3.0]), "should be an int64 vector, got float64 of shape (2,)"),
    "value": (np.array(["0.5"]), "should be an array of numbers or bools, got <U3 of shape (1,)"),
    "raw": (np.array([1 + 2j]), "should be an array of numbers or bools, got complex128 of shape (1,)"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_validate_rejects_an_output_that_breaks_its_kind_and_grade_says_which(case):
    kind, (array, why) = case.split("_")[0], MALFORMED[case]
    wire = protocol.key(kind, "y")
    good = {protocol.key(protocol.FLAG, "other"): np.array(1, np.int8)}
    with pytest.raises(protocol.MalformedResult) as caught:
        protocol.validate(good | {wire: array})
    assert caught.value.problems == [f"output {wire!r} ({kind} 'y') {why}"]
    check = packs.load("01_tensor").checks[0]
    verdict = grade(check, good | {wire: array}, _fixtures("01_tensor")[check.probe])
    assert f"- the results of your code could not be checked: output {wire!r} ({kind} 'y') {why}" in verdict.feedback
    assert verdict.score == 0.0


def test_only_the_protocol_spells_the_key_prefixes():
    """Probes, packs, the judge and the fixture code name outputs by kind (probes/protocol.py maps kinds to the key
    prefixes they travel and are stored under): none of their strings starts with a prefix, but fixture inputs'."""
    inputs = {name for module in PACKS for fixture in _fixtures(module).values() for name in fixture.inputs}
    prefixes = tuple(prefix for prefix in protocol.PREFIX.values() if prefix)
    grader = ROOT / "autograde"
    files = [*grader.glob("probes/*.py"), *grader.glob("packs/*.py")] + [
        grader / f"{name}.py" for name in ("judging", "make_fixtures", "fixture_io")
    ]
    spelled = []
    for path in (path for path in files if path.name != "protocol.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        spelled += [
            f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and node.value.startswith(prefixes) and node.value not in inputs
        ]  # fmt: skip
    assert len(files) >= 10 and spelled == []


def test_output_names_that_would_be_read_as_another_kind_are_refused():
    assert protocol.parse(protocol.key(protocol.RAW, "ok_0")) == ("raw", "ok_0")  # only a value's name is bare
    assert protocol.parse("size_before") == ("value", "size_before")
    for kind, name in ((protocol.VALUE, protocol.key(protocol.FLAG, "x")), (protocol.FLAG, ""), ("tensor", "y")):
        with pytest.raises(ValueError, match="cannot name an output"):
            protocol.key(kind, name)
    with pytest.raises(protocol.MalformedResult, match="names no output"):
        protocol.validate({protocol.PREFIX[protocol.SHAPE]: np.zeros(1, np.int64)})


def test_diff_names_shape_mistakes():
    expected = np.zeros((3, 4), np.float32)
    assert compare.diff(np.zeros((4, 3), np.float32), expected, name="y") == (
        "y: shape (4, 3), expected (3, 4) (looks transposed)"
    )
    assert compare.diff(np.zeros(4, np.float32), np.zeros((1, 4), np.float32), name="y") == (
        "y: shape (4,), expected (1, 4) (looks like the batch dimension of size 1 is missing)"
    )
    assert compare.diff(np.zeros((1, 3, 4), np.float32), expected, name="y") == (
        "y: shape (1, 3, 4), expected (3, 4) (an extra leading dimension of size 1)"
    )
    assert compare.diff(np.array([0, 2]), np.array([0, 1, 2]), name="ids") == (
        "ids: shape (2,), expected (3,): got [0, 2], expected [0, 1, 2]"
    )


def test_diff_reports_dtype_nan_inf_errors_and_at_most_three_elements():
    expected = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    got = expected.astype(np.float64)
    got[0, 1], got[1, 2], got[2, 0], got[2, 3] = np.nan, 7.5, 6.0, np.inf
    assert compare.diff(got, expected, rtol=1e-6, name="y") == (
        "y: dtype float64, expected float32; 1 NaN and 1 inf values; 4 of 12 elements differ (33.3%); "
        "max abs error 3 at [2, 0]; max rel error 0.333333 at [2, 0]; "
        "at [0, 1] expected 2, got nan; at [1, 2] expected 7, got 7.5; at [2, 0] expected 9, got 6"
    )
    assert compare.diff(np.float32(12), np.float32(15), name="n") == "n: expected 15, got 12"
    assert compare.diff(got.astype(np.float32), got.astype(np.float32)) is None


@settings(max_examples=60, deadline=None)
@given(
    expected=arrays(
        np.float32, array_shapes(min_dims=0, max_dims=3, max_side=5), elements=st.floats(-1e6, 1e6, width=32)
    ),
    data=st.data(),
)
def test_diff_counts_exactly_the_changed_elements(expected, data):
    assert compare.diff(expected.copy(), expected, rtol=1e-6) is None
    changed = data.draw(arrays(np.bool_, expected.shape))
    got = np.where(changed, expected + 1 + np.abs(expected), expected).astype(np.float32)  # off by more than rtol
    report = compare.diff(got, expected, rtol=1e-6, name="y")
    count = int(changed.sum())
    assert report is None if count == 0 else report.count(", got ") == min(count, compare.SHOWN)
    if count and expected.size > 1:
        assert f"{count} of {expected.size} elements differ" in report


# --------------------------------------------------------------------------- verdicts recorded before a refactor

# Score and feedback of every check for the reference, every mutant and every valid variant, recorded with
# `python -c "from tests.test_autograde_checks import record_verdicts; record_verdicts()"`. A refactor of the grader
# must leave them as they are; a deliberate change of a verdict re-records them in the same commit.
RECORDED_VERDICTS = ROOT / "tests" / "data" / "verdicts.json"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _portable(feedback: str) -> str:
    """Feedback as it reads on any machine: every number masked. Results of matrix products differ in their last bits
    between BLAS kernels, and with them the relative error of an element whose reference is nearly 0, which element
    errs most, and whether an element within a hair of the tolerance counts as differing; the words, the checks, the
    labels and the hints do not. (The numbers themselves are pinned by the tests of compare.diff.)"""
    return _NUMBER.sub("#", feedback)


def _as_recorded(verdicts: dict[str, Verdict]) -> dict[str, list]:
    return {name: [verdict.score, _portable(verdict.feedback)] for name, verdict in verdicts.items()}


def _cases():
    """(case name, module, edits) for the reference (no edits), every mutant and every valid variant."""
    for module in PACKS:
        yield f"reference {module}", module, None
    for mutant in MUTANTS:
        yield f"mutant {mutant.name}", COMPONENTS[mutant.component], mutant.edits
    for variant in VALID:
        module, edits = variant.values
        yield f"valid {variant.id}", module, edits


@functools.cache
def _recorded() -> dict:
    return json.loads(RECORDED_VERDICTS.read_text())


def assert_as_recorded(case: str, verdicts: dict[str, Verdict]) -> None:
    """The verdicts of `case` (run by its own test: the reference, a mutant, a valid variant) are those recorded."""
    assert _as_recorded(verdicts) == _recorded()[case], f"{case}: verdicts differ from {RECORDED_VERDICTS.name}"


def record_verdicts() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        recorded = {
            case: _as_recorded(run_checks(module, ROOT if edits is None else student_package(Path(tmp), module, edits)))
            for case, module, edits in _cases()
        }
    RECORDED_VERDICTS.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def test_every_case_has_its_recorded_verdicts():
    """The recording holds exactly the current cases; each case's own test compares its verdicts with it."""
    assert sorted(case for case, _, _ in _cases()) == sorted(_recorded())
