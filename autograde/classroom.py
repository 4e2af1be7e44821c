"""Grading a class in a course folder with nbgrader's own commands: a course copy, the commands, the table."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograde.checks import CHECKS
from tinytorch_course import settings

MODULE = "03_layers"
COURSE_FILES = ("nbgrader_config.py", "settings.ini", "pyproject.toml")
COURSE_DIRS = ("tinytorch_course", "autograde", "nbs", "modules", "tinytorch")


def copy_course(dest: Path, root: Path = settings.ROOT) -> Path:
    """A fresh copy of what nbgrader needs to grade the course (no runtime state), at `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COURSE_FILES:
        shutil.copy(root / name, dest)
    for name in COURSE_DIRS:
        shutil.copytree(root / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command of this interpreter's environment in `course`."""
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["nbgrader", *args], cwd=course, env=env, capture_output=True, text=True)


def grade_table(course: Path, module: str = MODULE) -> str:
    """Per student: points per component and the total, from the gradebook."""
    from nbgrader.api import Gradebook

    components = settings.load().components[module]
    maximum = {c: sum(k.points for k in CHECKS[module] if k.name.startswith(f"{c}-")) for c in components}
    header = f"{'student':<10}" + "".join(f"{c:>14}" for c in components) + f"{'total':>10}"
    rows = [header]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for submission in sorted(gb.assignment_submissions(module), key=lambda s: s.student_id):
            grades = [g for nb in submission.notebooks for g in nb.grades]
            got = {c: sum(g.score for g in grades if g.name.startswith(f"{c}-")) for c in components}
            cells = "".join(f"{f'{got[c]:g}/{maximum[c]:g}':>14}" for c in components)
            rows.append(f"{submission.student_id:<10}{cells}{f'{submission.score:g}/{submission.max_score:g}':>10}")
    return "\n".join(rows)
