"""A damaged notebook earns what its solution code earns in the intact notebook, for real: one `nbgrader autograde`
of a course copy, into its SQLite gradebook, whose class hands in the reference solution and a buggy one (bob of
autograde/samples: Dropout scales by p, Sequential lists shared parameters twice), each intact and with each kind
of damage; then `python -m autograde grade` on the same course for the files that are not notebooks.
"""

import csv
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_autograde_nbgrader import scores, submission

from autograde import packs
from autograde.samples import CLASS, apply, solve
from tinytorch_course import notebooks, settings
from tinytorch_course.course import copy_course, run_nbgrader

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]  # nbgrader autograde of 26 damaged submissions

MODULE = "03_layers"
VERSIONS = {"correct": {}, "buggy": CLASS["bob"]}
POINTS = {check.name: check.points for check in packs.load(MODULE).checks}
RELEASE = json.loads(settings.load().released(MODULE).read_text())
MISSING_NOTE = "The solution cell linear-implementation is missing from your notebook"
OWN_CELLS = ["# my scratch work\nprint(Linear(2, 3).weight)", "Notes to self: check the bias shape."]


def grade_id(cell: dict) -> str | None:
    return notebooks.nbgrader(cell).get("grade_id")


def graded(cell: dict) -> bool:
    return bool(notebooks.nbgrader(cell).get("grade"))


def read_only(cell: dict) -> bool:
    return bool(notebooks.nbgrader(cell).get("locked")) and not graded(cell)


def without(nb: dict, leave_out: Callable[[dict], bool]) -> dict:
    return nb | {"cells": [cell for cell in nb["cells"] if not leave_out(cell)]}


# Sequential's last three test cells: nbgrader 0.9.6's add_missing_cells fails on them with KeyError, as the first
# follows a read-only cell (sequential-mlp-example). Linear's six test cells too.
SEVERAL_IN_A_ROW = {"sequential-mlp-784-256-10", "sequential-hidden-deck-mlp-reference",
                    "sequential-hidden-nested-modes"}  # fmt: skip


def several_in_a_row_deleted(nb: dict) -> dict:
    """Two runs of test cells deleted (SEVERAL_IN_A_ROW, Linear's), and two cells of the student's own after Linear."""
    nb = without(nb, lambda c: graded(c) and (grade_id(c).startswith("linear-") or grade_id(c) in SEVERAL_IN_A_ROW))
    at = next(i for i, c in enumerate(nb["cells"]) if grade_id(c) == "linear-implementation") + 1
    own = [{"cell_type": "code", "id": "own-code", "metadata": {}, "source": OWN_CELLS[0], "outputs": [],
            "execution_count": None},
           {"cell_type": "markdown", "id": "own-notes", "metadata": {}, "source": OWN_CELLS[1]}]  # fmt: skip
    nb["cells"][at:at] = own
    return nb


def moved(nb: dict) -> dict:
    """The test cells at the top in reverse order; the `default_exp` and Layer contract cells at the end."""
    to_end = {"layers-setup-default-exp", "layer-contract-class"}
    top = [c for c in reversed(nb["cells"]) if graded(c)]
    middle = [c for c in nb["cells"] if not graded(c) and grade_id(c) not in to_end]
    return nb | {"cells": top + middle + [c for c in nb["cells"] if grade_id(c) in to_end]}


def duplicated(nb: dict) -> dict:
    """Every test and read-only cell copied and pasted below itself (a new cell id, the same metadata)."""
    cells = []
    for index, cell in enumerate(nb["cells"]):
        cells.append(cell)
        if graded(cell) or read_only(cell):
            cells.append(json.loads(json.dumps(cell)) | {"id": f"copy-{index}"})
    return nb | {"cells": cells}


# Edits of nbgrader metadata, taken in turn by the test and read-only cells; the first stopped every nbgrader run.
METADATA_EDITS: list[Callable[[dict], None]] = [
    lambda meta: meta.pop("schema_version"),
    lambda meta: meta.update(points=100.0, grade=True),
    lambda meta: meta.update(grade=False, locked=False),
    lambda meta: meta.pop("grade_id"),
    lambda meta: meta.update(solution=True, locked=False),
    lambda meta: meta.clear(),
    lambda meta: meta.update(grade_id=[meta["grade_id"]]),
]


def metadata_edited(nb: dict) -> dict:
    """METADATA_EDITS in turn; a solution cell, a prose cell and a cell of the student's own claiming points."""
    fixed = [cell for cell in nb["cells"] if graded(cell) or read_only(cell)]
    for index, cell in enumerate(fixed):
        METADATA_EDITS[index % len(METADATA_EDITS)](cell["metadata"]["nbgrader"])
    solution = next(c for c in nb["cells"] if grade_id(c) == "dropout-implementation")
    solution["metadata"]["nbgrader"].update(points=10.0, grade=True)
    nb["cells"][0]["metadata"]["nbgrader"] = {"grade": True, "points": 5.0}
    bonus = {"grade": True, "grade_id": "bonus", "locked": True, "points": 50.0, "schema_version": 3, "solution": False}
    nb["cells"].append({"cell_type": "markdown", "id": "bonus", "metadata": {"nbgrader": bonus}, "source": "50 points"})
    return nb


def ids_edited(nb: dict) -> dict:
    """Every cell's cell id, or else its grade_id, changed (in turn), Dropout's solution cell's grade_id among them."""
    for index, cell in enumerate(nb["cells"]):
        if grade_id(cell) and (index % 2 or grade_id(cell) == "dropout-implementation"):
            cell["metadata"]["nbgrader"]["grade_id"] += "-mine"
        else:
            cell["id"] = f"edited-{index}"
    return nb


DAMAGE: dict[str, Callable[[dict], dict | str | list]] = {
    "one-deleted": lambda nb: without(nb, lambda c: grade_id(c) == "dropout-modes"),
    "several-in-a-row-deleted": several_in_a_row_deleted,
    "all-graded-deleted": lambda nb: without(nb, graded),
    "read-only-deleted": lambda nb: without(nb, read_only),
    "moved": moved,
    "duplicated": duplicated,
    "metadata-edited": metadata_edited,
    "ids-edited": ids_edited,
    "solution-deleted": lambda nb: without(nb, lambda c: grade_id(c) == "linear-implementation"),
    "invalid-json": lambda nb: json.dumps(nb, indent=1)[:5000],
    "not-a-notebook": lambda nb: nb["cells"],  # JSON, but a list of cells
}
NOT_NOTEBOOKS = {  # damage -> the reason given for it
    "invalid-json": r"not a readable notebook \(JSON error at line \d+\)",
    "not-a-notebook": re.escape("not a notebook (JSON without an nbformat version)"),
}
GRADED_LIKE_INTACT = [kind for kind in DAMAGE if kind not in NOT_NOTEBOOKS and kind != "solution-deleted"]


def linear_left_blank(nb: dict) -> dict:
    """What a student who never wrote Linear hands in: its solution cell as released."""
    stub = next(notebooks.source(c) for c in RELEASE["cells"] if grade_id(c) == "linear-implementation")
    for cell in nb["cells"]:
        if grade_id(cell) == "linear-implementation":
            cell["source"] = stub
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course copy whose class (intact, blank-Linear and damaged notebooks) went through one `nbgrader autograde`."""
    course = copy_course(tmp_path_factory.mktemp("damaged") / "course")
    assert run_nbgrader(course, "generate_assignment", MODULE, "--force").returncode == 0
    for version, edits in VERSIONS.items():
        intact = submission(course, f"intact-{version}")
        solve(intact, MODULE, apply(edits))
        write = {f"blank-linear-{version}": linear_left_blank}
        write |= {f"{kind}-{version}": damage for kind, damage in DAMAGE.items()}
        for student, damage in write.items():
            damaged = damage(json.loads(intact.read_text()))
            submission(course, student).write_text(damaged if isinstance(damaged, str) else json.dumps(damaged))
    return course


@pytest.fixture(scope="module")
def autograde_run(course) -> subprocess.CompletedProcess:
    return run_nbgrader(course, "autograde", MODULE)


def autograded(course: Path, student: str) -> dict:
    return json.loads((course / "autograded" / student / MODULE / f"{MODULE}.ipynb").read_text())


def verdict(cell: dict) -> str:
    """What the grader printed into a graded cell (the text of a stream is a string or a list of lines)."""
    return "".join("".join(out["text"]) for out in cell.get("outputs", []) if out["output_type"] == "stream")


def test_the_intact_notebooks_score_full_marks_and_the_bugs_points(course, autograde_run):
    assert scores(course, "intact-correct") == POINTS
    assert sum(scores(course, "intact-buggy").values()) == 22  # the sample class's bob, as graded elsewhere


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", GRADED_LIKE_INTACT)
def test_a_damaged_notebook_scores_what_the_intact_one_does_cell_by_cell(course, autograde_run, kind, version):
    assert scores(course, f"{kind}-{version}") == scores(course, f"intact-{version}")


def test_a_correct_notebook_without_any_graded_cell_gets_full_marks(course, autograde_run):
    assert sum(scores(course, "all-graded-deleted-correct").values()) == 32


@pytest.mark.parametrize("kind", GRADED_LIKE_INTACT)
def test_every_graded_and_read_only_cell_is_back_once_in_its_place(course, autograde_run, kind):
    restored = [grade_id(c) for c in autograded(course, f"{kind}-correct")["cells"] if grade_id(c)]
    assert restored == [grade_id(c) for c in RELEASE["cells"] if grade_id(c)]


def test_cells_whose_grade_id_was_edited_are_known_by_their_cell_id(course, autograde_run):
    cells = autograded(course, "ids-edited-correct")["cells"]
    assert len(cells) == len(RELEASE["cells"])  # no cell was taken for the student's own and restored beside it
    assert not [grade_id(cell) for cell in cells if "autograde" in cell["metadata"]]  # none marked as restored


def test_the_students_own_cells_stay_where_they_were(course, autograde_run):
    cells = autograded(course, "several-in-a-row-deleted-correct")["cells"]
    at = next(i for i, c in enumerate(cells) if grade_id(c) == "linear-implementation")
    assert [notebooks.source(c) for c in cells[at + 1 : at + 3]] == OWN_CELLS
    assert all(not notebooks.nbgrader(c) for c in cells[at + 1 : at + 3])


@pytest.mark.parametrize("version", VERSIONS)
def test_a_deleted_solution_cell_scores_like_a_blank_one_and_the_feedback_says_so(course, autograde_run, version):
    got = scores(course, f"solution-deleted-{version}")
    assert got == scores(course, f"blank-linear-{version}")
    assert {name: got[name] for name in POINTS if name.startswith("linear-")} == dict.fromkeys(
        [name for name in POINTS if name.startswith("linear-")], 0.0
    )
    cells = autograded(course, f"solution-deleted-{version}")["cells"]
    for cell in filter(graded, cells):  # on Linear's checks only: the others are graded with the reference's Linear
        assert (MISSING_NOTE in verdict(cell)) == grade_id(cell).startswith("linear-"), grade_id(cell)
        assert "NameError" not in verdict(cell)


def test_files_that_are_not_notebooks_fail_alone_with_their_reason_in_the_log(course, autograde_run):
    assert autograde_run.returncode == 1  # nbgrader's way of saying some submissions failed
    failed = set(re.findall(r"error processing assignment '03_layers' for student '(\S+)'", autograde_run.stderr))
    assert failed == {f"{kind}-{version}" for kind in NOT_NOTEBOOKS for version in VERSIONS}
    for student in failed:
        reason = NOT_NOTEBOOKS[student.rsplit("-", 1)[0]]
        assert re.search(rf"submitted/{student}/{MODULE}/{MODULE}.ipynb: {reason}\n", autograde_run.stderr), student
    everyone = {path.name for path in (course / "submitted").iterdir()}
    for student in everyone - failed:
        assert set(scores(course, student)) == set(POINTS) and None not in scores(course, student).values()


def test_the_class_runner_lists_them_as_problems_with_their_reason(course, autograde_run):
    run = subprocess.run(
        [sys.executable, "-m", "autograde", "grade", MODULE], cwd=course, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr  # some could not be graded
    broken = {f"{kind}-{version}": reason for kind, reason in NOT_NOTEBOOKS.items() for version in VERSIONS}
    total = len(list((course / "submitted").iterdir()))
    assert run.stdout.startswith(
        f"{MODULE}: {total} submissions, {total - len(broken)} already graded, {len(broken)} to grade"
    )
    with open(course / "autograded" / f"{MODULE}-problems.csv", newline="") as f:
        rows = {row["student"]: row["reason"] for row in csv.DictReader(f)}
    assert set(rows) == set(broken)
    assert all(re.fullmatch(broken[student], reason) for student, reason in rows.items()), rows
