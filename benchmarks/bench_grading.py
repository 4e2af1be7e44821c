"""How long grading a class of module 03 takes: plain nbgrader against the trusted checks with 1 and 2 workers.

Run it from the repository root with the project's venv, as root or as an ordinary user:

    python benchmarks/bench_grading.py            # 50 submissions; about 10 minutes, 6 of them plain nbgrader
    python benchmarks/bench_grading.py --quick    # 3 submissions, one round; under a minute: a smoke run

It measures and prints; it asserts nothing about speed. The exit status is non-zero only when a grading run fails
or the trusted checks give a submission another total than expected.

The class: mostly the reference solution, one in ten with autograde.samples' two one-line bugs (bob) and one in ten
the blank release, in two copies of the course under a temp dir. The contenders (harness.py), each command a
process of its own, timed as a whole (start-up included), taking turns round by round:
- plain: `nbgrader autograde 03_layers` with nbgrader's default sanitize and autograde preprocessors (the course's
  nbgrader_config.py without its Autograde and OverwriteCells lines). nbgrader then executes each notebook in a
  kernel, every cell of it: the analysis cells too (plots, timing loops), and the export cell. It runs in the first
  round only: it takes minutes, and its ratios use that one run.
- ours: `python -m autograde grade 03_layers --force --workers N` (classroom.grade_class), N = 1 and 2.
Per-student times come from nbgrader's log timestamps (plain) and from the progress lines (ours: time inside a
worker; with 2 workers two students share the 2 cores). Seconds per submission = wall time of the class /
submissions. Then one submission is profiled in this process: where its time goes, the sandbox's start-up first.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the grader is importable from the repository only

from harness import Command, CpuMeter, Results, load_average, markdown_table, running, take_turns  # noqa: E402
from sqlalchemy.exc import SAWarning  # noqa: E402

from autograde import packs  # noqa: E402
from autograde.classroom import MODULE  # noqa: E402
from autograde.samples import CLASS, write_class  # noqa: E402
from tinytorch_course import settings  # noqa: E402
from tinytorch_course.course import copy_course, run_nbgrader  # noqa: E402

MAX = sum(check.points for check in packs.load(MODULE).checks)
KINDS = {"reference": ({}, 32), "bob": (CLASS["bob"], 22), "blank": (None, 0)}  # edits, expected trusted total
TARGET = 120.0  # seconds for the whole class of 50 with ours
PLAIN_CONFIG = '''"""Plain nbgrader: the course's configuration with nbgrader's default grading (in a kernel)."""

c = get_config()  # noqa: F821
load_subconfig("nbgrader_config_trusted.py")  # noqa: F821
for key in ("sanitize_preprocessors", "autograde_preprocessors", "exporter_class"):
    c.Autograde.pop(key)
c.OverwriteCells.pop("add_missing_cells")
'''


def kind_of(index: int) -> str:
    """Every tenth submission has bob's bugs, every tenth is blank; a class of 3 already holds all three kinds."""
    return "bob" if index % 10 == 1 else "blank" if index % 10 == 2 else "reference"


def make_courses(base: Path, size: int) -> tuple[Path, Path, dict[str, str]]:
    trusted = copy_course(base / "trusted")
    done = run_nbgrader(trusted, "generate_assignment", MODULE, "--force")
    if done.returncode:
        sys.exit(f"generate_assignment failed:\n{done.stderr[-2000:]}")
    kinds = {f"s{i:02d}": kind_of(i) for i in range(size)}
    write_class(trusted / "submitted", MODULE, {student: KINDS[kind][0] for student, kind in kinds.items()})
    plain = base / "plain"
    shutil.copytree(trusted, plain)  # the same gradebook (assignment only) and submissions
    (plain / "nbgrader_config.py").rename(plain / "nbgrader_config_trusted.py")
    (plain / "nbgrader_config.py").write_text(PLAIN_CONFIG)
    return trusted, plain, kinds


LOG_FORMAT = "--Application.log_format=%(created).3f %(message)s"  # timestamps on nbgrader's log lines
PROGRESS = re.compile(r"^\[\d+/\d+\] (\S+) +(\S+)  (\d+\.\d) s$", re.M)  # student, score, seconds in the worker


def contenders(trusted: Path, plain: Path) -> list[Command]:
    plain_run = ["nbgrader", "autograde", MODULE, "--force", LOG_FORMAT]
    found = [Command("plain nbgrader", plain_run, plain, env=settings.tool_env(), rounds=1)]
    for workers in (1, 2):
        ours = [sys.executable, "-m", "autograde", "grade", MODULE, "--force", "--workers", str(workers)]
        found.append(Command(f"ours, {workers} worker{'s' * (workers > 1)}", ours, trusted))
    return found


def plain_student_seconds(command: Command) -> list[float]:
    """Per student and run, the seconds from nbgrader's first log line about them to its last."""
    seconds = []
    for done in command.runs:
        stamps = re.findall(
            r"^(\d+\.\d+) (Creating/updating student|Setting destination file permissions)", done.stderr, re.M
        )
        begun = [float(t) for t, what in stamps if what.startswith("Creating")]
        ended = [float(t) for t, what in stamps if what.startswith("Setting")]
        seconds += [b - a for a, b in zip(begun, ended, strict=True)]
    return seconds


def our_students(command: Command) -> list[tuple[str, str, float]]:
    """(student, score, seconds in the worker) of every progress line of every run."""
    return [(s, score, float(t)) for done in command.runs for s, score, t in PROGRESS.findall(done.stdout)]


def totals(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student_id: s.score for s in gb.assignment_submissions(MODULE)}


def plain_cell_seconds(course: Path, students: list[str]) -> dict[str, float]:
    """Median seconds per notebook that plain nbgrader's kernel spent in each kind of cell (nbclient's timings)."""
    per_kind: dict[str, list[float]] = {}
    for student in students:
        nb = json.loads((course / "autograded" / student / MODULE / f"{MODULE}.ipynb").read_text())
        spent: dict[str, float] = {}
        for cell in nb["cells"]:
            timing = cell.get("metadata", {}).get("execution", {})
            if cell["cell_type"] != "code" or "iopub.execute_input" not in timing:
                continue
            meta = cell["metadata"].get("nbgrader", {})
            kind = (
                "analysis" if "-analysis-" in meta.get("grade_id", "")
                else "graded tests" if meta.get("grade") else "solutions" if meta.get("solution") else "setup/other"
            )  # fmt: skip
            took = _iso(timing["shell.execute_reply"]) - _iso(timing["iopub.execute_input"])
            spent[kind] = spent.get(kind, 0.0) + took
        for kind, seconds in spent.items():
            per_kind.setdefault(kind, []).append(seconds)
    return {kind: statistics.median(values) for kind, values in per_kind.items()}


def _iso(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def profile_one(course: Path, student: str, repeats: int) -> tuple[float, dict[str, float]]:
    """Median wall seconds of one warm in-process autograde, and the mean seconds of each stage of it.

    Stages are timed with wall-clock stopwatches around the functions that do them (cProfile would inflate the
    Python-heavy stages and not the sandbox's waiting); "the rest" is the total minus the stages.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import CheckCellMetadata, OverwriteCells, SaveAutoGrades

    from autograde import classroom, judging, preprocessors, sandbox

    config, _ = classroom._course_config(course)
    api = NbGraderAPI(config=config)
    warnings.simplefilter("ignore", SAWarning)  # nbgrader's own ORM use; harmless
    api.autograde(MODULE, student, force=True)  # warm-up: the first one imports nbdev and friends
    spent: dict[str, float] = {}

    def stopwatch(stage: str, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - start

        return timed

    patches = [
        # the grader runs each component's sandbox at the same time: one wall-clock stage for all of them
        (sandbox, "run_many", "sandbox: every component's run, side by side"),
        (preprocessors, "scratch_package", "export (nbdev, scratch package)"),
        (judging, "grade", "judges (compare with fixtures)"),
        (CheckCellMetadata, "preprocess", "nbgrader: CheckCellMetadata, twice (jsonschema)"),
        (OverwriteCells, "preprocess", "nbgrader: OverwriteCells (a query per cell)"),
        (Autograde, "init_assignment", "nbgrader: student, submission rows"),
        (SaveAutoGrades, "preprocess", "nbgrader: SaveAutoGrades (scores)"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, stage in patches:
        setattr(owner, name, stopwatch(stage, getattr(owner, name)))
    walls = []
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            assert api.autograde(MODULE, student, force=True)["success"]
            walls.append(time.perf_counter() - start)
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    stages = {stage: seconds / repeats for stage, seconds in spent.items()}
    stages["nbgrader: the rest (sanitize, notebooks, files)"] = statistics.mean(walls) - sum(stages.values())
    return statistics.median(walls), stages


def class_table(results: Results, plain: Command, ours: list[Command], size: int) -> str:
    per_student = {plain.name: plain_student_seconds(plain)}
    per_student |= {command.name: [t for _, _, t in our_students(command)] for command in ours}
    rows = []
    for command in (plain, *ours):
        wall = results.time("run", command.name)
        speedup = results.ratio("run", plain.name, command.name)
        runs = len(results.visits["run", command.name])
        rows.append(
            [f"{command.name} ({runs} run{'s' * (runs > 1)})", f"{wall.text(1)} s", f"{wall.median / size:.2f} s"]
            + [f"{statistics.median(per_student[command.name]):.2f} s", f"{speedup.text(1)}x"]
        )
    headers = [f"grading {size} submissions", "class, median [IQR]", "s/submission", "per student", "vs plain"]
    return markdown_table(headers, rows)


def wrong_totals(ours: list[Command], kinds: dict[str, str]) -> list[str]:
    """Every progress line whose score is not its submission's expected total, and every student without one."""
    expected = {s: f"{KINDS[kind][1]:g}/{MAX:g}" for s, kind in kinds.items()}
    wrong = []
    for command in ours:
        lines = our_students(command)
        wrong += [
            f"{command.name}: {s}: {score}, expected {expected[s]}" for s, score, _ in lines if score != expected[s]
        ]
        wrong += [f"{command.name}: {s}: no progress line" for s in set(kinds) - {s for s, _, _ in lines}]
    return wrong


def print_totals_and_cells(trusted: Path, plain: Path, kinds: dict[str, str]) -> None:
    plain_totals, our_totals = totals(plain), totals(trusted)
    print("Totals by kind of submission (plain nbgrader / ours):")
    for kind in KINDS:
        students = [s for s in kinds if kinds[s] == kind]
        if students:
            got_plain = "/".join(f"{t:g}" for t in sorted({plain_totals[s] for s in students}))
            got_ours = "/".join(f"{t:g}" for t in sorted({our_totals[s] for s in students}))
            print(f"  {kind:<10} plain {got_plain} of {MAX:g}, ours {got_ours}")
    cells = sorted(plain_cell_seconds(plain, list(kinds)).items(), key=lambda kv: -kv[1])
    print("Plain nbgrader's kernel, median seconds per notebook by kind of cell (the rest is kernel start-up and"
          " nbgrader):\n  " + ", ".join(f"{kind} {seconds:.2f} s" for kind, seconds in cells))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of ours per worker count (default 3)")
    parser.add_argument("--quick", action="store_true", help="3 submissions, one round, 2 profiled gradings")
    parser.add_argument("--keep", action="store_true", help="keep the course copies (their path is printed)")
    args = parser.parse_args()
    size, rounds, repeats = (3, 1, 2) if args.quick else (args.students, args.rounds, 5)
    base = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        trusted, plain, kinds = make_courses(base, size)
        counts = {kind: list(kinds.values()).count(kind) for kind in KINDS}
        print(f"Class of {size} submissions of {MODULE}: {counts}; course copies in {base}")
        print(f"cores: {os.cpu_count()}; load average at start: {load_average()}\n")
        meter = CpuMeter()
        with running(contenders(trusted, plain)) as (plain_nbgrader, *ours):
            results = take_turns([plain_nbgrader, *ours], ["run"], rounds)
        print(f"{meter.others()}; load average at end: {load_average()}\n")
        print(class_table(results, plain_nbgrader, ours, size))
        print(f"\n2 workers vs 1: {results.ratio('run', ours[0].name, ours[1].name).text(2)}x faster")
        class_of_50 = results.time("run", ours[1].name).median / size * 50
        scaled = f" (scaled from {size})" if size != 50 else ""
        verdict = "met" if class_of_50 < TARGET else "MISSED"
        print(f"target: a class of 50 in under {TARGET:.0f} s with ours: {class_of_50:.1f} s{scaled}: {verdict}\n")
        print_totals_and_cells(trusted, plain, kinds)

        reference = next(s for s in kinds if kinds[s] == "reference")
        wall, stages = profile_one(trusted, reference, repeats)
        print(f"\nOne submission of ours in one process, warm: {wall:.2f} s (median of {repeats}); on average:\n")
        rows = [[name, f"{seconds:.3f}", f"{seconds / sum(stages.values()):.0%}"] for name, seconds in stages.items()]
        print(markdown_table(["stage", "seconds", "share"], rows))
        failures = wrong_totals(ours, kinds)
        if failures:
            print("\nWRONG TOTALS:\n  " + "\n  ".join(failures[:20]))
        return 1 if failures else 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
