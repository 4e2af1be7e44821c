"""`grade_class` / `python -m autograde grade` grade a class in parallel workers, for real: nbgrader's Autograde in
worker processes, the sandbox, one SQLite gradebook; killed with SIGKILL midway and resumed, regraded, graded twice.
"""

import csv
import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograde import packs
from autograde.classroom import grade_class
from autograde.samples import CLASS, solve, write_class
from autograde.sandbox import child_pids
from tinytorch_course import settings
from tinytorch_course.course import copy_course, run_nbgrader

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]  # grades whole classes, several times

MODULE = "03_layers"
RELEASE = settings.load().released(MODULE)
CELLS = len(packs.load(MODULE).checks)  # one graded cell per check
# pasted: the reference solution plus a test cell pasted from module 02, whose grade_id module 03 does not have
FIRST = {"ada": 32, "ada2": 32, "ada3": 32, "ada4": 32, "bob": 22, "zed": 0, "pasted": 32}
LATER = {"kai": 32, "ken": 22, "kev": 32, "kia": 32, "kim": 32, "kit": 32}  # handed in after the first run
BROKEN = {  # student -> the reason recorded for them
    "truncated": r"not a readable notebook \(JSON error at line \d+\)",
    "oldformat": r"nbformat 3, expected 4",
}
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (\S+) +(.+?)  (\d+\.\d) s$")
HOLD = 6.0  # seconds another connection holds the gradebook's write lock: more than SQLite's default 5 s timeout


def write_students(course: Path, students: dict[str, int]) -> None:
    """The reference solution (32), the bug sample bob (22) or the blank release (0) under each id."""
    edits = {32: {}, 22: CLASS["bob"], 0: None}
    write_class(course / "submitted", MODULE, {student: edits[total] for student, total in students.items()})


def notebook(course: Path, student: str) -> Path:
    return course / "submitted" / student / MODULE / f"{MODULE}.ipynb"


def gradebook(course: Path) -> dict[str, dict[str, float | None]]:
    """student -> {grade cell -> auto score}, straight from nbgrader's tables; asserts one submission per student."""
    with sqlite3.connect(course / "gradebook.db") as db:
        submissions = db.execute(
            "SELECT s.student_id, COUNT(*) FROM submitted_assignment s JOIN assignment a ON a.id = s.assignment_id"
            " WHERE a.name = ? GROUP BY s.student_id",
            (MODULE,),
        ).fetchall()
        assert all(count == 1 for _, count in submissions), submissions
        rows = db.execute(
            "SELECT s.student_id, c.name, g.auto_score FROM grade g"
            " JOIN submitted_notebook n ON n.id = g.notebook_id JOIN submitted_assignment s ON s.id = n.assignment_id"
            " JOIN base_cell c ON c.id = g.cell_id"
        ).fetchall()
    grades: dict[str, dict[str, float | None]] = {student: {} for student, _ in submissions}
    for student, cell, score in rows:
        assert cell not in grades[student], f"{student} has two grades for {cell}"
        grades[student][cell] = score
    return grades


def assert_graded_once(course: Path, expected: dict[str, int]) -> None:
    grades = gradebook(course)
    for student, total in expected.items():
        assert len(grades[student]) == CELLS and None not in grades[student].values(), student
        assert sum(grades[student].values()) == total, student
        assert (course / "autograded" / student / MODULE / f"{MODULE}.ipynb").is_file(), student


def progress_lines(lines: list[str], complete: bool = True) -> dict[str, str]:
    """student -> what their progress line says, checking the counter runs 1..n (up to n if not `complete`)."""
    found = [PROGRESS.match(line) for line in lines if line.startswith("[")]
    assert all(found), lines
    assert [int(m[1]) for m in found] == list(range(1, len(found) + 1))
    assert len({int(m[2]) for m in found}) <= 1 and all(len(found) <= int(m[2]) for m in found)
    assert not complete or all(len(found) == int(m[2]) for m in found)
    return {m[3]: m[4] for m in found}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = copy_course(tmp_path_factory.mktemp("class") / "course")
    assert run_nbgrader(course, "generate_assignment", MODULE, "--force").returncode == 0
    write_students(course, FIRST)
    notebook(course, "truncated").parent.mkdir(parents=True)
    notebook(course, "truncated").write_text(RELEASE.read_text()[:5000])
    notebook(course, "oldformat").parent.mkdir(parents=True)
    notebook(course, "oldformat").write_text(json.dumps(json.loads(RELEASE.read_text()) | {"nbformat": 3}))
    other = json.loads(settings.load().released("02_activations").read_text())
    pasted = json.loads(notebook(course, "pasted").read_text())
    pasted["cells"].append(next(c for c in other["cells"] if c["metadata"].get("nbgrader", {}).get("grade")))
    notebook(course, "pasted").write_text(json.dumps(pasted))
    return course


@pytest.fixture(scope="module")
def first_run(course):
    """The class graded with 2 workers while another connection holds the gradebook's write lock for HOLD s."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)\n"
         "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(float(sys.argv[2])); db.commit()",
         str(course / "gradebook.db"), str(HOLD)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline() == "locked\n"
    lines: list[str] = []
    report = grade_class(course, MODULE, workers=2, progress=lines.append)
    assert holder.wait() == 0
    return report, lines


def test_a_class_is_graded_in_parallel_with_a_progress_line_per_student(course, first_run):
    report, lines = first_run
    assert lines[0] == f"{MODULE}: 9 submissions, 0 already graded, 9 to grade with 2 worker(s)"
    said = progress_lines(lines)
    assert {s: said[s] for s in FIRST} == {s: f"{total}/32" for s, total in FIRST.items()}
    assert all(re.fullmatch(f"not graded: {reason}", said[s]) for s, reason in BROKEN.items())
    assert {o.student: o.score for o in report.outcomes} == FIRST | dict.fromkeys(BROKEN)
    assert report.graded == sorted(FIRST) and report.skipped == []
    assert_graded_once(course, FIRST)
    table = next(line for line in lines if line.startswith("\nstudent")).splitlines()[2:]
    assert [row.split()[0] for row in table] == sorted(FIRST)  # the unreadable ones are not listed as 0/32
    assert [row.split()[-1] for row in table] == [f"{FIRST[s]}/32" for s in sorted(FIRST)]


def test_writes_wait_for_a_locked_gradebook_instead_of_failing(first_run):
    report, _ = first_run
    assert not any("locked" in (o.problem or "") for o in report.outcomes)
    assert report.seconds >= HOLD - 0.5, "the workers' first writes waited for the lock holder"


def test_submissions_that_cannot_be_graded_are_recorded_with_a_reason(course, first_run):
    report, lines = first_run
    assert set(report.problems) == set(BROKEN)
    assert all(re.fullmatch(BROKEN[s], reason) for s, reason in report.problems.items())

    with open(course / "autograded" / f"{MODULE}-problems.csv", newline="") as f:
        rows = {row["student"]: row["reason"] for row in csv.DictReader(f)}
    assert rows == report.problems
    assert any(line.startswith("\nCould not be graded (2;") for line in lines)


def test_each_grading_records_its_own_end_with_the_submission_it_graded(course, first_run):
    records = course / "autograded" / f".{MODULE}-graded"
    assert sorted(p.stem for p in records.glob("*.json")) == sorted(FIRST)  # not the broken ones
    for student in FIRST:  # these were copied into submitted/, not handed in: nbgrader wrote no timestamp.txt
        assert not (course / "submitted" / student / MODULE / "timestamp.txt").exists()
        assert json.loads((records / f"{student}.json").read_text()) == {"submitted": None}


def test_a_killed_run_is_completed_by_the_next_with_every_student_graded_once(course, first_run):
    write_students(course, LATER)
    runner = subprocess.Popen(
        [sys.executable, "-m", "autograde", "grade", MODULE, "--workers", "2"],
        cwd=course, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
    )  # fmt: skip
    output, lines, deadline = b"", [], time.monotonic() + 60
    while sum(" not graded: " not in line for line in lines if PROGRESS.match(line)) < 2:  # 2 students graded
        assert select.select([runner.stdout], [], [], max(deadline - time.monotonic(), 0))[0], f"stuck: {lines}"
        chunk = os.read(runner.stdout.fileno(), 1 << 16)
        assert chunk, f"the runner ended before grading 2 students: {lines}"
        output += chunk
        lines = output.decode().split("\n")[:-1]  # complete lines only
    workers = child_pids(runner.pid)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    assert len(workers) == 2 and _all_gone(workers, within=5), "the workers die with the runner"
    before = {s for s, said in progress_lines(lines, complete=False).items() if "not graded" not in said}

    rerun = subprocess.run(
        [sys.executable, "-m", "autograde", "grade", MODULE], cwd=course, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 1, rerun.stderr  # the 2 broken notebooks, as `nbgrader autograde` says
    lines = rerun.stdout.splitlines()
    regraded = progress_lines(lines)
    assert not before & set(regraded), "graded before the kill, so not again"
    assert set(BROKEN) <= set(regraded) <= set(LATER) | set(BROKEN)
    assert all(regraded[s] == f"{LATER[s]}/32" for s in set(regraded) - set(BROKEN))
    done, todo = 15 - len(regraded), len(regraded)
    assert lines[0] == f"{MODULE}: 15 submissions, {done} already graded, {todo} to grade with 2 worker(s)"
    assert_graded_once(course, FIRST | LATER)
    assert set(gradebook(course)) == set(FIRST) | set(LATER) | set(BROKEN)  # broken: nbgrader's row, scores empty


def test_what_an_interrupted_run_left_half_done_is_graded_again(course, first_run):
    autograded = course / "autograded" / "{}" / MODULE / f"{MODULE}.ipynb"
    half = Path(str(autograded).format("ada2"))
    half.chmod(0o644)
    half.write_bytes(half.read_bytes()[:20_000])  # killed while nbgrader wrote the autograded notebook
    sanitized = Path(str(autograded).format("ada3"))  # killed between nbgrader's sanitize and autograde steps
    nb = json.loads(sanitized.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
    sanitized.chmod(0o644)
    sanitized.write_text(json.dumps(nb))
    with sqlite3.connect(course / "gradebook.db") as db:  # killed before SaveAutoGrades: the scores are missing
        db.execute(
            "UPDATE grade SET auto_score = NULL WHERE notebook_id IN (SELECT n.id FROM submitted_notebook n"
            " JOIN submitted_assignment s ON s.id = n.assignment_id WHERE s.student_id = 'ada4')"
        )
    for student in ("ada2", "ada3", "ada4"):  # each was being graded: nbgrader's pre-convert hook forgot its record
        (course / "autograded" / f".{MODULE}-graded" / f"{student}.json").unlink()
    lines: list[str] = []
    report = grade_class(course, MODULE, workers=2, progress=lines.append)
    assert {o.student for o in report.outcomes} == {"ada2", "ada3", "ada4"} | set(BROKEN)
    assert progress_lines(lines)["ada3"] == "32/32"
    assert_graded_once(course, FIRST | LATER)


def test_student_option_regrades_an_edited_notebook(course, first_run):
    solve(notebook(course, "bob"), MODULE)  # bob fixes both bugs and hands in again (no new timestamp)
    assert "bob" in grade_class(course, MODULE, progress=lambda line: None).skipped
    assert sum(gradebook(course)["bob"].values()) == 22
    run = subprocess.run(
        [sys.executable, "-m", "autograde", "grade", MODULE, "--student", "bob"],
        cwd=course, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{MODULE}: regrading bob with 1 worker(s)\n")
    assert progress_lines(run.stdout.splitlines()) == {"bob": "32/32"}
    assert_graded_once(course, FIRST | LATER | {"bob": 32})


def test_a_newer_hand_in_is_graded_again(course, first_run):
    grade_class(course, MODULE, progress=lambda line: None)  # everyone graded: nothing left to do
    handed_in = "2026-11-29 20:00:00.000000 UTC"  # nbgrader submit's format
    solve(notebook(course, "zed"), MODULE)  # zed finally does the work and hands in
    (course / "submitted" / "zed" / MODULE / "timestamp.txt").write_text(handed_in)
    report = grade_class(course, MODULE, progress=lambda line: None)
    graded = {o.student: o.score for o in report.outcomes if o.problem is None}  # the broken ones are tried again
    assert graded == {"zed": 32}
    record = course / "autograded" / f".{MODULE}-graded" / "zed.json"
    assert json.loads(record.read_text()) == {"submitted": handed_in}
    assert "zed" in grade_class(course, MODULE, progress=lambda line: None).skipped


def test_grading_the_same_submissions_again_gives_the_same_scores(course, first_run):
    grade_class(course, MODULE, progress=lambda line: None)
    before = gradebook(course)
    report = grade_class(course, MODULE, force=True, progress=lambda line: None)
    assert len(report.outcomes) == 15 and report.skipped == []
    assert gradebook(course) == before


def test_unknown_students_and_modules_are_refused(course):
    with pytest.raises(ValueError, match="no submission of 03_layers for nobody"):
        grade_class(course, MODULE, students=["nobody"], progress=lambda line: None)
    with pytest.raises(ValueError, match="02_activations is not in the gradebook"):
        grade_class(course, "02_activations", progress=lambda line: None)


def _all_gone(pids: list[int], within: float) -> bool:
    """Every pid has exited (or is a zombie nobody reaps) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
                    alive.append(pid)
            except OSError:
                pass
        if not alive:
            return True
        time.sleep(0.05)
    return False
