"""The leak gate: what students receive in modules/ gives away no answer and no hidden test.

The release is nbgrader's own `generate_assignment` output, committed. These tests check it against the
instructor source in nbs/: nothing secret survives, everything given survives, every stub raises
NotImplementedError, and a blank release runs top to bottom failing only through those stubs.
"""

import ast
import filecmp
import re
import shutil

import pytest

from tinytorch_course import notebooks, release, settings
from tinytorch_course.course import copy_course

COURSE = settings.load()
ROOT = settings.ROOT
MODULES = COURSE.modules
REGION = re.compile(
    r"^[ \t]*### BEGIN (?P<kind>SOLUTION|HIDDEN TESTS)[ \t]*\n(?P<body>.*?)^[ \t]*### END (?P=kind)[ \t]*\n?",
    re.MULTILINE | re.DOTALL,
)
STUB = "raise NotImplementedError()"


def released(module):
    return notebooks.read(COURSE.released(module))


def instructor(module):
    return notebooks.read(COURSE.notebook(module))


def by_id(nb):
    return {notebooks.nbgrader(c).get("grade_id") or c["id"]: c for c in nb["cells"]}


def secret_lines(module) -> set[str]:
    """Lines of solutions and hidden tests that appear nowhere else in the instructor notebook."""
    secret, public = set(), set()
    for cell in instructor(module)["cells"]:
        text = notebooks.source(cell)
        for region in REGION.finditer(text):
            secret.update(line.strip() for line in region["body"].splitlines() if line.strip())
        public.update(line.strip() for line in REGION.sub("", text).splitlines())
    return secret - public


@pytest.mark.slow  # nbgrader generate_assignment of every module
def test_a_fresh_release_equals_the_committed_one(tmp_path):
    course = copy_course(tmp_path / "course")
    shutil.rmtree(course / "modules")
    release.release(root=course)
    stale = [
        m
        for m in MODULES
        if not filecmp.cmp(course / "modules" / m / f"{m}.ipynb", ROOT / "modules" / m / f"{m}.ipynb", shallow=False)
    ]
    assert not stale, f"modules/ is stale for {stale}: run `make release` and commit"
    assert sorted(p.name for p in (ROOT / "modules").iterdir()) == sorted(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_release_has_no_outputs_markers_or_secret_lines(module):
    secrets = secret_lines(module)
    assert len(secrets) > 10, f"{module}: expected solution and hidden-test lines to guard, found {len(secrets)}"
    for cell in released(module)["cells"]:
        text, name = notebooks.source(cell), notebooks.nbgrader(cell).get("grade_id", cell["id"])
        assert cell.get("outputs", []) == [], f"{module}/{name} has outputs"
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
            assert marker not in text, f"{module}/{name} contains {marker!r}"
        leaked = [line for line in text.splitlines() if line.strip() in secrets]
        assert not leaked, f"{module}/{name} leaks instructor lines: {leaked[:3]}"


@pytest.mark.parametrize("module", MODULES)
def test_release_keeps_every_cell_and_all_given_code(module):
    source, student = instructor(module), released(module)
    assert list(by_id(source)) == list(by_id(student)), f"{module}: cells were added, dropped or reordered"
    for key, cell in by_id(source).items():
        expected = notebooks.source(cell)
        if notebooks.nbgrader(cell).get("solution"):
            expected = REGION.sub(
                lambda m: (
                    re.match(r"[ \t]*", m[0])[0] + "# YOUR CODE HERE\n" + re.match(r"[ \t]*", m[0])[0] + STUB + "\n"
                ),
                expected,
            )
        else:
            expected = REGION.sub("", expected)
        assert notebooks.source(by_id(student)[key]).rstrip() == expected.rstrip(), f"{module}/{key} changed"
        # nbdev directives survive, so the student's export writes the same modules as the instructor's
        directives = [line for line in expected.splitlines() if line.startswith("#|")]
        assert directives == [ln for ln in notebooks.source(by_id(student)[key]).splitlines() if ln.startswith("#|")]


@pytest.mark.parametrize("module", MODULES)
def test_every_stubbed_function_raises_not_implemented(module):
    source = by_id(instructor(module))
    for key, cell in by_id(released(module)).items():
        if not notebooks.nbgrader(cell).get("solution"):
            continue
        text = notebooks.source(source[key])
        had_solution = {
            f.name
            for f in ast.walk(ast.parse(text))
            if isinstance(f, ast.FunctionDef) and "### BEGIN SOLUTION" in ast.get_source_segment(text, f)
        }
        assert had_solution, f"{module}/{key}: no function with a solution region"
        for f in ast.walk(ast.parse(notebooks.source(cell))):
            if isinstance(f, ast.FunctionDef) and f.name in had_solution:
                raises = [
                    n
                    for n in ast.walk(f)
                    if isinstance(n, ast.Raise)
                    and isinstance(n.exc, ast.Call)
                    and getattr(n.exc.func, "id", "") == "NotImplementedError"
                ]
                assert raises, f"{module}/{key}: {f.name} must raise NotImplementedError in the release"


@pytest.mark.slow  # runs every released notebook in a kernel
def test_a_blank_release_fails_every_graded_cell_only_through_its_stubs():
    for module in MODULES:
        path = COURSE.released(module)
        run = notebooks.execute(path, COURSE.cell_timeout)
        errors = {f.error.split(":")[0] for f in run.failures}
        assert errors == {"NotImplementedError"}, f"{module}: unexpected errors {run.failures}"
        failed = {f.grade_id for f in run.failures}
        graded = {
            notebooks.nbgrader(c)["grade_id"]
            for c in notebooks.graded_cells(run.notebook)
            if not notebooks.is_hidden_check(c)  # no code to fail: only the trusted grader scores these
        }
        assert graded <= failed, f"{module}: a blank notebook passes {sorted(graded - failed)} (free points)"
