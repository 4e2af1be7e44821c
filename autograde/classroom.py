"""Grading a class in a course folder with nbgrader's own machinery: the gradebook table, and
`grade_class`, which grades a whole class in parallel worker processes, resumably.

`grade_class` runs nbgrader's Autograde converter (through `NbGraderAPI.autograde`, exactly what `nbgrader
autograde --student ID` runs) in long-lived worker processes: importing nbgrader costs ~3 s, grading one
submission with the trusted checks well under one. The runner decides who needs grading; each worker grades one
student at a time into the shared SQLite gradebook.

- Resumable. A student counts as graded when a grading of their current submission ran to the end, which the
  grading records itself (autograde/completion.py: nbgrader's pre- and post-convert hooks, so plain `nbgrader
  autograde` counts too). Everyone else is graded with force, which makes nbgrader drop whatever an interrupted run
  left in their autograded folder. So a run killed at any point is completed by the next one, and nobody is graded
  twice (nbgrader's tables also hold one submission per student, one grade per cell).
- One runner per module and course: a lock file in autograded/, inherited by the workers, which die with the
  runner (PR_SET_PDEATHSIG): a SIGKILLed runner leaves nobody grading behind the next run's back.
- SQLite: the workers open the gradebook with a 60 s busy timeout (SQLite's default is 5 s), so a write waits for
  another worker's short transaction instead of failing with "database is locked".
- Problems. Submissions nbgrader could not grade are listed, one line each, in autograded/<module>-problems.csv
  (student, reason, when), rewritten after every student: a student's row goes when they are graded. The reason
  comes from checking the notebook file (JSON, nbformat) or else from the exception in nbgrader's log. Failed
  students are tried again on every run (a broken notebook fails in ~0.1 s), so a fixed notebook is then graded.
- Not covered by the lock: a plain `nbgrader autograde` of the same module at the same time.
"""

import contextlib
import csv
import ctypes
import fcntl
import glob
import multiprocessing
import os
import re
import signal
import sys
import time
import warnings
from collections.abc import Callable, Collection
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbgrader takes ~3 s to import: only where it is used
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

from autograde import completion, packs
from tinytorch_course import settings

MODULE = "03_layers"
BUSY_TIMEOUT = 60.0  # seconds a gradebook write waits for another worker's transaction
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def grade_table(course: Path, module: str = MODULE, students: Collection[str] | None = None) -> str:
    """Per student (every one in the gradebook, or only `students`): points per component and the total."""
    from nbgrader.api import Gradebook

    components = settings.load().components[module]
    maximum = {c: sum(k.points for k in packs.load(module).checks if k.name.startswith(f"{c}-")) for c in components}
    rows = [["student", *components, "total"]]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for submission in sorted(gb.assignment_submissions(module), key=lambda s: s.student_id):
            if students is not None and submission.student_id not in students:
                continue
            grades = [g for nb in submission.notebooks for g in nb.grades]
            got = {c: sum(g.score for g in grades if g.name.startswith(f"{c}-")) for c in components}
            cells = [f"{got[c]:g}/{maximum[c]:g}" for c in components]
            rows.append([submission.student_id, *cells, f"{submission.score:g}/{submission.max_score:g}"])
    return aligned(rows)


def aligned(rows: list[list[str]]) -> str:
    """A table whose columns are as wide as their widest entry (student ids have any length): the first column
    to the left, the others (scores) to the right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join([row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))])
        for row in rows
    )


def progress_line(done: int, total: int, student: str, width: int, result: str, seconds: float) -> str:
    """`[3/12] alice  18/20  2.1 s`: ids up to `width` long and counters of any width end in one column."""
    count = f"[{done}/{total}]"
    return f"{count} {student.ljust(width + len(f'[{total}/{total}]') - len(count))}  {result}  {seconds:.1f} s"


@dataclass(frozen=True)
class Outcome:
    """One student's grading in this run."""

    student: str
    seconds: float  # in the worker: nbgrader's autograde and reading the score back
    score: float | None = None  # None: could not be graded
    max_score: float | None = None
    problem: str | None = None  # why not, in one line


@dataclass(frozen=True)
class ClassReport:
    outcomes: list[Outcome]  # this run's, in the order they finished
    skipped: list[str]  # already completely graded, left alone
    graded: list[str]  # every student completely graded after the run
    problems: dict[str, str]  # student -> reason, as recorded in autograded/<module>-problems.csv
    seconds: float  # wall clock of the whole run, start-up included


def grade_class(
    course: Path,
    module: str = MODULE,
    workers: int = 2,
    students: Collection[str] | None = None,
    force: bool = False,
    progress: Callable[[str], Any] = print,
) -> ClassReport:
    """Autograde every submitted/<student>/<module>/ of `course` not yet completely graded, in `workers` processes.

    `students` grades just those, always afresh; `force` regrades everyone. Prints (through `progress`) a line per
    student as they finish, then the grade table of the graded students and the ones that could not be graded.
    """
    start = time.monotonic()
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise ValueError(f"{course} is not a course root: it has no nbgrader_config.py")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    config, coursedir = _course_config(course)
    autograded = Path(coursedir.root) / coursedir.autograded_directory
    with _exclusive(autograded / f".{module}.lock", progress):
        notebooks = _assignment_notebooks(coursedir, module)
        submitted = _submitted_students(coursedir, module)
        if students is not None:
            unknown = sorted(set(students) - set(submitted))
            if unknown:
                raise ValueError(f"no submission of {module} for {', '.join(unknown)}")
            todo, skipped = sorted(set(students)), []
        else:
            done = set() if force else completion.graded(Path(coursedir.root), module, submitted)
            todo, skipped = [s for s in submitted if s not in done], [s for s in submitted if s in done]
        problems_csv = autograded / f"{module}-problems.csv"
        problems = {s: row for s, row in _read_problems(problems_csv).items() if s in submitted}
        workers = max(1, min(workers, len(todo)))
        if students is None:
            progress(f"{module}: {len(submitted)} submissions, {len(skipped)} already graded, {len(todo)} to grade"
                     f" with {workers} worker(s)")  # fmt: skip
        else:
            progress(f"{module}: regrading {', '.join(todo)} with {workers} worker(s)")
        width = max(map(len, todo), default=0)
        outcomes: list[Outcome] = []

        def record(outcome: Outcome) -> None:
            outcomes.append(outcome)
            if outcome.problem is None:
                problems.pop(outcome.student, None)
                # right-aligned in the width of a full score, so that scores of any size end in one column
                result = f"{outcome.score:g}/{outcome.max_score:g}".rjust(2 * len(f"{outcome.max_score:g}") + 1)
            else:
                problems[outcome.student] = (outcome.problem, datetime.now(UTC).isoformat(timespec="seconds"))
                result = f"not graded: {outcome.problem}"
            _write_problems(problems_csv, problems)  # after every student: a killed run keeps what it learnt
            progress(progress_line(len(outcomes), len(todo), outcome.student, width, result, outcome.seconds))

        if todo:
            _grade_in_workers(config, module, todo, notebooks, workers, record)
        graded = sorted(completion.graded(Path(coursedir.root), module, submitted))
        problems = {s: row for s, row in problems.items() if s not in graded}  # e.g. graded since by nbgrader itself
        _write_problems(problems_csv, problems)
        progress("\n" + grade_table(course, module, students=graded))
        if problems:
            progress(f"\nCould not be graded ({len(problems)}; see {problems_csv}):")
            progress("\n".join(f"  {s:<{max(map(len, problems))}}  {problems[s][0]}" for s in sorted(problems)))
    return ClassReport(
        outcomes, skipped, graded, {s: reason for s, (reason, _) in problems.items()}, time.monotonic() - start
    )


def _course_config(course: Path) -> tuple["Config", "CourseDirectory"]:
    """nbgrader's configuration as `nbgrader ...` run in `course` loads it (global files, then the course's)."""
    from nbgrader.apps import NbGrader
    from nbgrader.coursedir import CourseDirectory

    saved_path = sys.path[:]
    try:
        with contextlib.chdir(course):  # nbgrader reads nbgrader_config.py from the working directory
            app = NbGrader()
            app.load_config_file()
            coursedir = CourseDirectory(config=app.config)
    finally:
        sys.path[:] = saved_path  # the config file puts the course root first on sys.path; not in this process
    config = app.config
    url = coursedir.db_url
    if url.startswith("sqlite:"):
        config.CourseDirectory.db_url = f"{url}{'&' if '?' in url else '?'}timeout={BUSY_TIMEOUT:g}"
    return config, coursedir


@contextlib.contextmanager
def _exclusive(path: Path, progress: Callable[[str], Any]):
    """Hold an exclusive lock on `path` (forked workers hold it too, until they exit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another grading run to finish (it holds {path})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _assignment_notebooks(coursedir: "CourseDirectory", module: str) -> list[str]:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            return sorted(nb.name for nb in gb.find_assignment(module).notebooks)
        except MissingEntry:
            raise ValueError(f"{module} is not in the gradebook: run `nbgrader generate_assignment {module}`") from None


def _submitted_students(coursedir: "CourseDirectory", module: str) -> list[str]:
    """Students with a submitted/<student>/<module>/ folder, the ones `nbgrader autograde <module>` would grade."""
    folders = glob.glob(coursedir.format_path(coursedir.submitted_directory, "*", module))
    pattern = coursedir.format_path(coursedir.submitted_directory, "(?P<student>[^/]+)", module, escape=True)
    found = (re.fullmatch(pattern, folder) for folder in folders if os.path.isdir(folder))
    return sorted(match["student"] for match in found if match)


def _read_problems(path: Path) -> dict[str, tuple[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return {row["student"]: (row["reason"], row["recorded"]) for row in csv.DictReader(f)}
    except FileNotFoundError:
        return {}


def _write_problems(path: Path, problems: dict[str, tuple[str, str]]) -> None:
    """Replace the CSV atomically: a kill mid-write leaves the old file, never half of one."""
    if not problems and not path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "reason", "recorded"])
        writer.writerows([s, *problems[s]] for s in sorted(problems))
    os.replace(partial, path)


def _grade_in_workers(
    config: "Config",
    module: str,
    students: list[str],
    notebooks: list[str],
    workers: int,
    record: Callable[[Outcome], None],
) -> None:
    # fork: the workers inherit nbgrader and the checks already imported here, and the lock's descriptor.
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(config, os.getpid()))
    try:
        futures: dict[Future, str] = {pool.submit(_grade_one, module, s, notebooks): s for s in students}
        for future in as_completed(futures):
            try:
                record(future.result())
            except Exception as error:  # a worker died (e.g. killed by the OOM killer): the grader's fault
                record(Outcome(futures[future], 0.0, problem=f"the grading worker failed: {error!r}"))
    finally:
        pool.shutdown(cancel_futures=True)  # on Ctrl-C: students in progress finish, the others wait for a rerun


_api: Any = None  # this worker process's NbGraderAPI


def _start_worker(config: "Config", runner: int) -> None:
    # Die with the runner: a worker orphaned by a SIGKILLed runner would go on grading beside the next run.
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != runner:
        os._exit(1)  # the runner died before prctl took effect
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle (see _grade_in_workers)
    from nbgrader.apps import NbGraderAPI
    from sqlalchemy.exc import SAWarning

    warnings.simplefilter("ignore", SAWarning)  # nbgrader 0.9's own ORM use warns on every submission; harmless
    global _api
    _api = NbGraderAPI(config=config)


def _grade_one(module: str, student: str, notebooks: list[str]) -> Outcome:
    from nbgrader.api import Gradebook

    start = time.monotonic()
    folder = Path(_api.coursedir.format_path(_api.coursedir.submitted_directory, student, module))
    # force: whatever an interrupted run left in autograded/<student>/ is removed and graded afresh
    result = _api.autograde(module, student, force=True, create=True)
    if not result["success"]:
        problem = _notebook_problem(folder, notebooks) or _logged_problem(result)
        return Outcome(student, time.monotonic() - start, problem=problem)
    with Gradebook(_api.coursedir.db_url, _api.coursedir.course_id) as gb:
        submission = gb.find_submission(module, student)
        score, max_score = submission.score, submission.max_score
    return Outcome(student, time.monotonic() - start, score, max_score)


def _notebook_problem(folder: Path, notebooks: list[str]) -> str | None:
    """What is wrong with the submitted notebooks as files, if anything: clearer than nbgrader's traceback."""
    from autograde.preprocessors import notebook_problem  # imported already, by nbgrader_config.py

    for name in notebooks:
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            return f"{path.name} is missing from the submission"
        problem = notebook_problem(path)
        if problem:
            return problem
    return None


_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit)): (.+)$", re.MULTILINE)
_FRAME_LINE = re.compile(r'File "([^"]+)", line \d+, in (\S+)')


def _logged_problem(result: dict) -> str:
    """The first exception nbgrader logged, and where it was raised, on one line."""
    for text in (result.get("log", ""), result.get("error", "")):
        found = _EXCEPTION_LINE.search(text)
        if found:
            frames = _FRAME_LINE.findall(text, 0, found.start())
            where = f" (in {Path(frames[-1][0]).name}, {frames[-1][1]})" if frames else ""
            reason = " ".join(f"{found[1]}: {found[2]}".split())
            return (reason if len(reason) <= 200 else reason[:197] + "...") + where
    return "nbgrader failed without saying why"
