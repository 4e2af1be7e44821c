"""nbgrader's hand-off through a course exchange folder, with real `nbgrader` commands on one machine.

The instructor releases 03_layers from a copy of the course; two students, each with their own home and
nbgrader_config.py, fetch it, edit it and submit it; the instructor collects. Each submission must land in
submitted/<student>/ with that student's work, and no second fetch may overwrite a student's notebook.
"""

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tinytorch_course import settings
from tinytorch_course.course import copy_course

pytestmark = pytest.mark.exchange

ROOT = settings.ROOT
COURSE_ID = settings.load().course_id
MODULE = "03_layers"
RELEASED = settings.load().released(MODULE)
NBGRADER = Path(sys.executable).parent / "nbgrader"
EXCHANGE_MODE = 0o777  # what `nbgrader release_assignment` itself gives an exchange root it creates
MARKERS = ("# marker: ada-1", "# marker: ada-2", "# marker: grace-1")


def run_nbgrader(args: list[str], cwd: Path, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `nbgrader args` in `cwd` as a user whose home is `home` (nbgrader logs to stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "XDG_"))} | {"HOME": str(home)}
    result = subprocess.run([str(NBGRADER), *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr}"
    return result


def make_course(tmp_path: Path, exchange: Path) -> Path:
    """A copy of the course root whose settings.ini points at `exchange`, as an instructor would edit it."""
    course = copy_course(tmp_path / "course")
    ini, count = re.subn(r"^root = .*$", f"root = {exchange}", (ROOT / "settings.ini").read_text(), flags=re.M)
    assert count == 1, "settings.ini should set the exchange root on exactly one line"
    (course / "settings.ini").write_text(ini)
    assert settings.load(course / "settings.ini").exchange_root == str(exchange)
    return course


def make_student(tmp_path: Path, name: str, exchange: Path) -> tuple[Path, Path]:
    """A student's home, with the ~/.jupyter/nbgrader_config.py a student gets, and their working folder."""
    home = tmp_path / name
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(exchange)!r}\n"
    )
    (home / "work").mkdir()
    return home, home / "work"


def linear_source(notebook: Path) -> str:
    """The source of the solution cell where the student writes Linear."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "linear-implementation"]
    return "".join(cell["source"])


def add_marker(notebook: Path, marker: str) -> None:
    """Edit the Linear solution cell the way a student does: append a line to it."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "linear-implementation":
            cell["source"] = "".join(cell["source"]) + f"\n{marker}"
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def markers_in(notebook: Path) -> set[str]:
    return {m for m in MARKERS if m in linear_source(notebook)}


def submitted_at(submission: Path) -> datetime:
    """The time nbgrader wrote into timestamp.txt at submit (its default format, in UTC)."""
    text = (submission / "timestamp.txt").read_text()
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f %Z").replace(tzinfo=UTC)


def test_release_fetch_submit_collect_through_the_exchange(tmp_path: Path) -> None:
    start = datetime.now(UTC)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(EXCHANGE_MODE)
    course, instructor = make_course(tmp_path, exchange), tmp_path / "instructor"
    instructor.mkdir()

    released = run_nbgrader(["release_assignment", MODULE], course, instructor)
    assert f"Released as: {COURSE_ID} {MODULE}" in released.stderr
    assert "Permissions for exchange directory" not in released.stderr  # nbgrader accepted the folder as it was
    assert exchange.stat().st_mode & 0o7777 == EXCHANGE_MODE

    students = {name: make_student(tmp_path, name, exchange) for name in ("ada", "grace")}
    for name, (home, work) in students.items():
        fetched = run_nbgrader(["fetch_assignment", MODULE], work, home)
        assert f"Fetched as: {COURSE_ID} {MODULE}" in fetched.stderr
        notebook = work / MODULE / f"{MODULE}.ipynb"
        assert notebook.read_bytes() == RELEASED.read_bytes(), "the fetched notebook should be the release"
        text = notebook.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        add_marker(notebook, f"# marker: {name}-1")
        # Both students are one OS user here; nbgrader's documented `--student` names the submitter.
        submitted = run_nbgrader(["submit", MODULE, f"--student={name}"], work, home)
        assert f"Submitted as: {COURSE_ID} {MODULE}" in submitted.stderr

    ada_home, ada_work = students["ada"]
    ada_notebook = ada_work / MODULE / f"{MODULE}.ipynb"
    edited = ada_notebook.read_bytes()
    refetch = run_nbgrader(["fetch_assignment", MODULE], ada_work, ada_home, check=False)
    assert refetch.returncode == 1
    assert f"You already have a copy of the assignment in this directory: {MODULE}" in refetch.stderr
    assert ada_notebook.read_bytes() == edited, "a second fetch must leave the student's notebook untouched"

    collected = run_nbgrader(["collect", MODULE], course, instructor)
    for name in students:
        assert f"Collecting submission: {name} {MODULE}" in collected.stderr
    submitted_dir = course / "submitted"
    assert (course / "gradebook.db").is_file()  # the copy's gradebook, never the repository's
    assert sorted(p.name for p in submitted_dir.iterdir()) == ["ada", "grace"]
    ada, grace = submitted_dir / "ada" / MODULE, submitted_dir / "grace" / MODULE
    assert markers_in(ada / f"{MODULE}.ipynb") == {"# marker: ada-1"}
    assert markers_in(grace / f"{MODULE}.ipynb") == {"# marker: grace-1"}
    ada_first, grace_time = submitted_at(ada), submitted_at(grace)
    assert start < ada_first < grace_time <= datetime.now(UTC)  # ada submitted first
    grace_files = {p.name: p.read_bytes() for p in grace.iterdir()}

    add_marker(ada_notebook, "# marker: ada-2")
    run_nbgrader(["submit", MODULE, "--student=ada"], ada_work, ada_home)
    # nbgrader documents that collect replaces a collected submission only with --update, and by the newest one.
    updated = run_nbgrader(["collect", "--update", MODULE], course, instructor)
    assert f"Updating submission: ada {MODULE}" in updated.stderr
    assert f"No newer submission to collect: grace {MODULE}" in updated.stderr
    assert markers_in(ada / f"{MODULE}.ipynb") == {"# marker: ada-1", "# marker: ada-2"}
    assert grace_time < submitted_at(ada) <= datetime.now(UTC)
    assert {p.name: p.read_bytes() for p in grace.iterdir()} == grace_files
