"""Which submissions were graded to the end, recorded by the grading run itself.

nbgrader calls `forget` before it grades a student's submission and `record` after it has written every autograded
notebook and stored every score (the course's nbgrader_config.py sets them as Autograde's pre- and post-convert
hooks), for `nbgrader autograde` and `python -m autograde grade` alike. `record` writes
autograded/.<module>-graded/<student>.json holding the submission's timestamp.txt; a run killed at any point in
between leaves no record. `graded` reads the records back: a student counts as graded when the record holds the
timestamp of their current submission (a newer submission is graded again, nbgrader's own rule).

The course uses nbgrader's default folder layout: <root>/submitted/<student>/<module>/<notebook>.ipynb.
"""

import json
from pathlib import Path

RECORDS = "autograded/.{module}-graded"


def _submission(notebooks: list[str]) -> tuple[Path, str, str] | None:
    """(course root, student, module) of the submission the hook is called for, from its notebooks' paths."""
    if not notebooks:
        return None
    folder = Path(notebooks[0]).resolve().parent  # <root>/submitted/<student>/<module>
    return folder.parents[2], folder.parent.name, folder.name


def _timestamp(root: Path, student: str, module: str) -> str | None:
    try:
        return (root / "submitted" / student / module / "timestamp.txt").read_text().strip()
    except OSError:
        return None


def _record_file(root: Path, student: str, module: str) -> Path:
    return root / RECORDS.format(module=module) / f"{student}.json"


def forget(assignment: str, student: str, notebooks: list[str]) -> None:
    """pre_convert_hook: from now until `record`, this submission counts as not graded."""
    if found := _submission(notebooks):
        _record_file(*found).unlink(missing_ok=True)


def record(assignment: str, student: str, notebooks: list[str]) -> None:
    """post_convert_hook: nbgrader has graded this submission to the end."""
    if found := _submission(notebooks):
        path = _record_file(*found)
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(".tmp")
        staged.write_text(json.dumps({"submitted": _timestamp(*found)}))
        staged.replace(path)  # atomic: a kill leaves no record or a whole one


def graded(root: Path, module: str, students: list[str]) -> set[str]:
    """The `students` whose current submission of `module` was graded to the end."""
    done = set()
    for student in students:
        try:
            said = json.loads(_record_file(root, student, module).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(said, dict) and said.get("submitted") == _timestamp(root, student, module):
            done.add(student)
    return done
