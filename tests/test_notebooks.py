"""The instructor notebooks in nbs/ as course material: structure, cleanliness, execution, export."""

import ast
import filecmp
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tinytorch_course import notebooks, settings

COURSE = settings.load()
ROOT = settings.ROOT
MODULES = COURSE.modules
MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$", re.MULTILINE)
# Run tools of this venv without the user's IN_TEST (it turns nbdev-export into a silent no-op).
TOOL_ENV = settings.tool_env({k: v for k, v in os.environ.items() if k != "IN_TEST"})


def code_cells(module):
    return [c for c in notebooks.read(COURSE.notebook(module))["cells"] if c["cell_type"] == "code"]


@pytest.fixture(scope="module", params=MODULES)
def executed(request):
    return notebooks.execute(COURSE.notebook(request.param), COURSE.cell_timeout)


def test_settings_list_each_module_with_its_notebook_export_and_components():
    assert MODULES[:3] == ("01_tensor", "02_activations", "03_layers")
    for module in MODULES:
        assert COURSE.notebook(module).is_file(), f"missing {COURSE.notebook(module)}"
        assert COURSE.components[module], f"settings.ini lists no components for {module}"
        default_exp = [
            found[1]
            for cell in code_cells(module)
            if (found := re.match(r"#\|\s*default_exp\s+(\S+)", notebooks.source(cell)))
        ]
        assert default_exp == [COURSE.exports[module]], f"{module}: settings.ini [exports] and `#| default_exp` differ"


@pytest.mark.parametrize("module", MODULES)
def test_notebook_is_committed_clean(module, tmp_path):
    path = COURSE.notebook(module)
    for cell in code_cells(module):
        assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path} has outputs in cell {cell['id']}"
    # nbdev-clean, configured by pyproject.toml to keep nbgrader metadata, must find nothing to change.
    (tmp_path / "nbs").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    copy = shutil.copy(path, tmp_path / "nbs")
    subprocess.run(["nbdev-clean", "--fname", copy], cwd=tmp_path, env=TOOL_ENV, check=True, capture_output=True)
    assert Path(copy).read_bytes() == path.read_bytes(), f"run `nbdev-clean --fname {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("module", MODULES)
def test_every_code_cell_has_one_nbgrader_role_and_unique_id(module):
    ids = []
    for cell in code_cells(module):
        meta = notebooks.nbgrader(cell)
        assert meta.get("grade_id"), f"{module}: code cell {cell['id']} has no nbgrader metadata"
        roles = [meta.get("solution"), meta.get("grade"), meta.get("locked") and not meta.get("grade")]
        assert sum(map(bool, roles)) == 1, f"{module}: {meta['grade_id']} must be exactly one of solution/test/given"
        ids.append(meta["grade_id"])
    assert len(ids) == len(set(ids)), f"{module}: duplicate grade_ids {sorted(i for i in ids if ids.count(i) > 1)}"


@pytest.mark.parametrize("module", MODULES)
def test_graded_cells_are_locked_carry_points_and_name_their_component(module):
    graded = [c for c in code_cells(module) if notebooks.nbgrader(c).get("grade")]
    assert len(graded) >= 4, f"{module} has only {len(graded)} graded test cells"
    components = COURSE.components[module]
    for cell in graded:
        meta = notebooks.nbgrader(cell)
        assert meta["locked"] and not meta["solution"], meta["grade_id"]
        assert meta["points"] > 0, meta["grade_id"]
        assert meta["grade_id"].split("-")[0] in components, f"{meta['grade_id']} must start with one of {components}"
        if not notebooks.is_hidden_check(cell):  # placeholders are scored by the grader's check of that name
            text = notebooks.source(cell)
            assert "assert" in text or "raises" in text, f"{meta['grade_id']} checks nothing"
    # every component the module teaches is graded somewhere
    graded_components = {notebooks.nbgrader(c)["grade_id"].split("-")[0] for c in graded}
    assert graded_components == set(components)


def _in_body(lines: list[str], function: ast.FunctionDef, lineno: int) -> bool:
    """Is 1-based `lineno` (a comment line) inside `function`'s body, indented like its statements?"""
    indent = lambda line: len(line) - len(line.lstrip())  # noqa: E731
    if lineno <= function.lineno or indent(lines[lineno - 1]) < function.body[0].col_offset:
        return False
    # a trailing comment still belongs to the body while no line in between dedents to the `def`
    return all(indent(line) > function.col_offset for line in lines[function.end_lineno : lineno - 1] if line.strip())


@pytest.mark.parametrize("module", MODULES)
def test_every_graded_cell_has_the_trusted_check_of_its_name_and_points(module):
    """One check per graded cell and one graded cell per check, points included, for every module of settings.ini:
    the pack is discovered from settings (autograde/packs/<name>.py, named after the module's package module)."""
    from autograde import packs

    cells = {notebooks.nbgrader(c)["grade_id"]: c for c in code_cells(module) if notebooks.nbgrader(c).get("grade")}
    pack = packs.load(module)
    assert pack.probe_file.stem == pack.name == COURSE.exports[module].split(".")[-1]
    checks = {check.name: check for check in pack.checks}
    assert len(checks) == len(pack.checks), f"{module}: two checks with one name"
    assert sorted(cells) == sorted(checks), f"{module}: cells without a check or checks without a cell"
    for name, cell in cells.items():
        assert notebooks.nbgrader(cell)["points"] == checks[name].points, name
        if notebooks.is_hidden_check(cell):
            assert checks[name].title in " ".join(notebooks.source(cell).replace("# ", "").split()), name


@pytest.mark.parametrize("module", MODULES)
def test_solution_regions_sit_inside_function_bodies_of_one_exported_class_or_function(module):
    solution_cells = [c for c in code_cells(module) if notebooks.nbgrader(c).get("solution")]
    assert solution_cells, f"{module} has nothing for students to write"
    for cell in solution_cells:
        grade_id, text = notebooks.nbgrader(cell)["grade_id"], notebooks.source(cell)
        assert text.startswith("#| export"), f"{grade_id}: a solution cell exports what the student writes"
        tree = ast.parse(text)
        # one class, or (for a module whose pieces are functions, such as 07's train_epoch) one top-level function
        defined = [n for n in tree.body if isinstance(n, ast.ClassDef)] or [
            n for n in tree.body if isinstance(n, ast.FunctionDef)
        ]
        assert len(defined) == 1, (
            f"{grade_id}: one class or function per solution cell, found {[d.name for d in defined]}"
        )
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        lines = text.splitlines()
        marks = [(i + 1, line.strip()) for i, line in enumerate(lines) if "### " in line and "SOLUTION" in line]
        assert marks, f"{grade_id} has no solution region"
        assert [m for _, m in marks] == ["### BEGIN SOLUTION", "### END SOLUTION"] * (len(marks) // 2), grade_id
        for lineno, mark in marks:
            body_of = [f.name for f in functions if _in_body(lines, f, lineno)]
            assert body_of, f"{grade_id}: '{mark}' on line {lineno} is outside every function body"


@pytest.mark.parametrize("module", MODULES)
def test_tests_and_analysis_are_never_exported(module):
    for cell in code_cells(module):
        meta, text = notebooks.nbgrader(cell), notebooks.source(cell)
        if meta.get("grade") or "analysis" in cell["metadata"].get("tags", []):
            assert "#| export" not in text, f"{meta['grade_id']} would leak into the package"
        if "HIDDEN TESTS" in text:
            assert meta.get("grade"), f"{meta['grade_id']}: hidden tests belong in graded cells"


@pytest.mark.slow  # runs every notebook in a kernel
def test_instructor_notebook_runs_top_to_bottom_with_every_test_passing(executed):
    assert executed.ok, f"{executed.path.name}: " + "; ".join(f"{f.grade_id}: {f.error}" for f in executed.failures)
    passed, total, earned, possible = executed.graded()
    assert passed == total and earned == possible > 0
    # The course promises each module runs in under a minute; the notebooks aim for a fraction of that.
    assert executed.seconds < 60, f"{executed.path.name} took {executed.seconds:.1f} s"


def test_fresh_export_reproduces_the_committed_package(tmp_path):
    for name in ("pyproject.toml", "nbs", "tinytorch"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tmp_path / name)
    subprocess.run(["nbdev-export"], cwd=tmp_path, env=TOOL_ENV, check=True, capture_output=True)
    fresh, committed = tmp_path / "tinytorch", ROOT / "tinytorch"
    # compare whole trees: nothing changed, nothing new, nothing missing
    files = lambda d: sorted(p.relative_to(d) for p in d.rglob("*.py"))  # noqa: E731
    assert files(fresh) == files(committed)
    changed = [str(f) for f in files(fresh) if not filecmp.cmp(fresh / f, committed / f, shallow=False)]
    assert not changed, f"run `make export` and commit: {changed} differ from a fresh export"


def test_exported_code_reads_as_plain_python():
    for path in sorted((ROOT / "tinytorch").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not MARKER.search(text), f"{path} contains nbgrader markers"
        for leftover in ("YOUR CODE HERE", "get_ipython", "%matplotlib", "plt.", "np.testing"):
            assert leftover not in text, f"{path} contains notebook leftover {leftover!r}"
        ast.parse(text)
