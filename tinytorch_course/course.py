"""A course folder as nbgrader sees it: copying one (without runtime state) and running nbgrader's commands in it.

Shared by the course tooling, the grader (`autograde` depends on `tinytorch_course`, never the other way round) and
the tests of both.
"""

import shutil
import subprocess
from pathlib import Path

from tinytorch_course import settings

COURSE_FILES = ("nbgrader_config.py", "settings.ini", "pyproject.toml")
COURSE_DIRS = ("tinytorch_course", "autograde", "nbs", "modules", "tinytorch")


def copy_course(dest: Path, root: Path = settings.ROOT) -> Path:
    """A fresh copy of what nbgrader needs to release and grade the course (no runtime state), at `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COURSE_FILES:
        shutil.copy(root / name, dest)
    for name in COURSE_DIRS:
        shutil.copytree(root / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run_nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` of this interpreter's environment in the course folder `course`, capturing its output."""
    return subprocess.run(["nbgrader", *args], cwd=course, env=settings.tool_env(), capture_output=True, text=True)
