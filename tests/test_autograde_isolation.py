"""A mistake is punished once, for real: each component is graded in isolation (autograde/preprocessors.py), so a
submission broken in one component only (a cell that does not parse, a NameError when its code is imported, an
infinite loop, wrong values) keeps full marks on every other component, and the broken one's feedback says what and
where, once. One `nbgrader autograde` per module grades every broken submission of it into a course copy's gradebook.

Module 02's `module` component has no solution cell of its own: its check is the contract every activation keeps,
graded on all of the student's code, so it is the one check a broken activation also loses.
"""

import json
import re
from pathlib import Path

import pytest
from test_autograde_checks import MUTANTS

from autograde import packs
from autograde.samples import apply, reference_solutions, solve
from tinytorch_course import notebooks, settings
from tinytorch_course.course import copy_course, run_nbgrader

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]  # nbgrader autograde of three classes, hangs included

COURSE = settings.load()
MODULES = ("01_tensor", "02_activations", "03_layers")
BUDGET = 1.0  # seconds per probe: every hanging probe waits it out
LIMITS = ["--TrustedChecks.timeout=4", f"--TrustedChecks.probe_timeout={BUDGET:g}"]
SYNTAX_ERROR = "\ndef broken(:\n    pass\n"
NAME_ERROR = "\nundefined_at_import\n"
HUNG = {"tensor": "def __matmul__(", "linear": "def forward(", "dropout": "def forward(", "sequential": "def forward("}


def own_code(module: str) -> list[str]:
    """The components of `module` with a solution cell of their own (`<component>-implementation`)."""
    solutions = reference_solutions(module)
    return [c for c in COURSE.components[module] if f"{c}-implementation" in solutions]


def shared(module: str) -> tuple[str, ...]:
    """Prefixes of the checks of components without code of their own: they check all of the student's code."""
    return tuple(f"{c}-" for c in COURSE.components[module] if c not in own_code(module))


def hang(source: str, component: str) -> str:
    """`source` with an infinite loop as the first statement of its forward (Tensor: __matmul__)."""
    header = next(line for line in source.splitlines() if line.strip().startswith(HUNG.get(component, "def forward(")))
    indent = re.match(r"\s*", header)[0] + "    "
    return source.replace(header + "\n", f"{header}\n{indent}while True:\n{indent}    pass\n", 1)


def wrong_values(source: str, component: str) -> str:
    """`source` with the first one-line bug of MUTANTS in this component."""
    mutant = next(m for m in MUTANTS if m.component == component)
    return apply({"x": mutant.edits})("x", source)


BREAKS = {
    "syntax": lambda source, component: source + SYNTAX_ERROR,
    "import": lambda source, component: source + NAME_ERROR,
    "hang": hang,
    "values": wrong_values,
}


def broken(component: str, kind: str):
    """An `edit` for `solve` that breaks the component's solution cell and leaves the others as the reference's."""
    own = f"{component}-implementation"
    return lambda grade_id, source: BREAKS[kind](source, component) if grade_id == own else source


STUDENTS = {f"{c}-{kind}": (module, c, kind) for module in MODULES for c in own_code(module) for kind in BREAKS}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course copy that graded, per module, one submission per component and kind of break."""
    course = copy_course(tmp_path_factory.mktemp("isolation") / "course")
    for module in MODULES:
        assert run_nbgrader(course, "generate_assignment", module, "--force").returncode == 0
    for student, (module, component, kind) in STUDENTS.items():
        notebook = course / "submitted" / student / module / f"{module}.ipynb"
        notebook.parent.mkdir(parents=True)
        notebook.write_bytes(COURSE.released(module).read_bytes())
        solve(notebook, module, broken(component, kind))
    for module in MODULES:
        run = run_nbgrader(course, "autograde", module, *LIMITS)
        assert run.returncode == 0, run.stderr[-3000:]
    return course


def graded_cells(course: Path, student: str) -> dict[str, tuple[float, str]]:
    """grade_id -> (score in the gradebook, the verdict written into the cell) of every graded cell."""
    from nbgrader.api import Gradebook

    module = STUDENTS[student][0]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        found = gradebook.find_submission_notebook(module, module, student)
        scores = {grade.name: grade.score for grade in found.grades}
    cells = notebooks.read(course / "autograded" / student / module / f"{module}.ipynb")["cells"]
    texts = {notebooks.nbgrader(c).get("grade_id"): "".join("".join(o.get("text", "")) for o in c["outputs"])
             for c in cells if c["cell_type"] == "code"}  # fmt: skip
    return {name: (score, texts[name]) for name, score in scores.items()}


def place(student: str, line_of: str) -> str:
    """How the feedback names where `line_of` is in the student's solution cell: notebook, cell, first line, line."""
    module, component, kind = STUDENTS[student]
    release = json.loads(COURSE.released(module).read_text())
    number, cell = next((n, c) for n, c in enumerate(release["cells"], 1)
                        if notebooks.nbgrader(c).get("grade_id") == f"{component}-implementation")  # fmt: skip
    source = BREAKS[kind](reference_solutions(module)[f"{component}-implementation"], component)
    first = next(line for line in source.splitlines() if line.strip() and not line.startswith("#|"))
    line = source.splitlines().index(line_of) + 1
    assert cell["id"] and number > 1
    return f"{module}.ipynb, cell {number} ({first.strip()!r}), line {line}"


@pytest.mark.parametrize("student", STUDENTS)
def test_a_component_broken_alone_costs_no_other_components_points(course, student):
    module, component, kind = STUDENTS[student]
    points = {check.name: float(check.points) for check in packs.load(module).checks}
    cells = graded_cells(course, student)
    others = {name for name in points if not name.startswith((f"{component}-", *shared(module)))}
    assert {name: cells[name] for name in others if cells[name][0] != points[name]} == {}
    assert all(text.rstrip().endswith(": passed.") for name, (_, text) in cells.items() if name in others)
    lost = {name for name, (score, _) in cells.items() if score < points[name]}
    assert any(name.startswith(f"{component}-") for name in lost), student


@pytest.mark.parametrize("student", [s for s, (_, _, kind) in STUDENTS.items() if kind == "syntax"])
def test_a_cell_that_does_not_parse_fails_its_own_component_with_one_clear_message(course, student):
    module, component, _ = STUDENTS[student]
    for name, (score, text) in graded_cells(course, student).items():
        if name.startswith(f"{component}-"):
            where = place(student, "def broken(:")
            assert score == 0 and f"your code does not parse: {where}: SyntaxError: " in text, text
        elif not name.startswith(shared(module)):
            assert "does not parse" not in text and "SyntaxError" not in text


@pytest.mark.parametrize("student", [s for s, (_, _, kind) in STUDENTS.items() if kind == "import"])
def test_code_that_fails_when_imported_fails_its_own_component_naming_the_cell_and_line(course, student):
    module, component, _ = STUDENTS[student]
    error = f"NameError: name 'undefined_at_import' is not defined ({place(student, 'undefined_at_import')})"
    for name, (score, text) in graded_cells(course, student).items():
        if name.startswith(f"{component}-"):
            assert score == 0 and f"your code stopped with an error: import-failed: {error}" in text, text
        elif not name.startswith(shared(module)):
            assert "NameError" not in text


@pytest.mark.parametrize("student", [s for s, (_, _, kind) in STUDENTS.items() if kind == "hang"])
def test_every_hanging_call_is_stopped_by_its_own_budget_and_named(course, student):
    module, component, _ = STUDENTS[student]
    source = BREAKS["hang"](reference_solutions(module)[f"{component}-implementation"], component)
    loop = next(line for line in source.splitlines() if line.strip() == "while True:")
    class_name, method = re.search(r"class (\w+)", source)[1], HUNG.get(component, "def forward(")[4:-1]
    function = f"{class_name}.{method}"
    expected = f"timeout: {function} did not finish within {BUDGET:g} s ({place(student, loop)})"
    hung = [text for name, (score, text) in graded_cells(course, student).items() if score == 0]
    assert hung and all(expected in text for text in hung if "did not finish" in text), hung
    assert not [
        text for text in hung if "wall clock" in text or "could not be interrupted" in text or "not run" in text
    ]


@pytest.mark.parametrize("student", [s for s, (_, _, kind) in STUDENTS.items() if kind == "values"])
def test_wrong_values_lose_exactly_the_points_of_the_mutant_of_the_same_bug(course, student):
    module, component, _ = STUDENTS[student]
    points = {check.name: float(check.points) for check in packs.load(module).checks}
    mutant = next(m for m in MUTANTS if m.component == component)
    lost = {name for name, (score, _) in graded_cells(course, student).items() if score < points[name]}
    assert lost == mutant.caught


def test_the_cpu_limit_never_stops_a_run_before_every_probe_had_its_budget():
    """A loop that spins through every probe's budget uses about the run's deadline in CPU seconds: the per-process
    CPU limit is at least that (the sample class's mallory lost Sequential's parameters() check to a 30 s limit)."""
    from autograde.sandbox import Limits

    limits = Limits(timeout=20.0, probe_timeout=10.0, cpu=30)
    assert limits.deadline(7) == 10.0 * 8 + 2.0 and limits.cpu_seconds(7) == 82
    assert limits.rlimits(7)["RLIMIT_CPU"] == 82 and Limits(cpu=30).cpu_seconds(0) == 30
