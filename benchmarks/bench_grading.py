"""How long grading a class of module 03 takes: plain nbgrader against the trusted checks with 1 and 2 workers.

Run it from the repository root with the project's venv, as root (the sandbox needs it):

    python benchmarks/bench_grading.py            # 50 submissions; about 10 minutes, most of it plain nbgrader
    python benchmarks/bench_grading.py --quick    # 10 submissions, one round each; about 2 minutes

It measures and prints; it asserts nothing about speed. The exit status is non-zero only when a grading run fails
or the trusted checks give a submission other than its expected total.

The class: mostly the reference solution, one in ten with autograde.samples' two one-line bugs (bob) and one in ten
the blank release, in two copies of the course under a temp dir:
- (a) plain: `nbgrader autograde 03_layers` with nbgrader's default sanitize and autograde preprocessors (the
  course's nbgrader_config.py without its two Autograde lines). nbgrader then executes each notebook in a kernel,
  every cell of it: the analysis cells too (plots, timing loops), and the export cell.
- (b) ours: `python -m autograde grade 03_layers --force --workers N` (classroom.grade_class), N = 1 and 2.
Both are timed as whole commands, start-up included. Per-student times come from nbgrader's log timestamps (a) and
from the progress lines (b: time inside a worker; with 2 workers two students share the 2 cores). Seconds per
submission = wall time of the class / submissions. Then one submission is profiled in this process.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the grader is importable from the repository only

from sqlalchemy.exc import SAWarning  # noqa: E402

from autograde.checks import CHECKS  # noqa: E402
from autograde.classroom import MODULE, copy_course, nbgrader  # noqa: E402
from autograde.samples import CLASS, write_class  # noqa: E402

MAX = sum(check.points for check in CHECKS[MODULE])
KINDS = {"reference": ({}, 32), "bob": (CLASS["bob"], 22), "blank": (None, 0)}  # edits, expected trusted total
TARGET = 120.0  # seconds for the whole class of 50 with ours
PLAIN_CONFIG = '''"""Plain nbgrader: the course's configuration with nbgrader's default grading (in a kernel)."""

c = get_config()  # noqa: F821
load_subconfig("nbgrader_config_trusted.py")  # noqa: F821
for key in ("sanitize_preprocessors", "autograde_preprocessors"):
    c.Autograde.pop(key)
'''


def kind_of(index: int) -> str:
    return "bob" if index % 10 == 4 else "blank" if index % 10 == 9 else "reference"


def make_courses(base: Path, size: int) -> tuple[Path, Path, dict[str, str]]:
    trusted = copy_course(base / "trusted")
    done = nbgrader(trusted, "generate_assignment", MODULE, "--force")
    if done.returncode:
        sys.exit(f"generate_assignment failed:\n{done.stderr[-2000:]}")
    kinds = {f"s{i:02d}": kind_of(i) for i in range(size)}
    write_class(trusted / "submitted", MODULE, {student: KINDS[kind][0] for student, kind in kinds.items()})
    plain = base / "plain"
    shutil.copytree(trusted, plain)  # the same gradebook (assignment only) and submissions
    (plain / "nbgrader_config.py").rename(plain / "nbgrader_config_trusted.py")
    (plain / "nbgrader_config.py").write_text(PLAIN_CONFIG)
    return trusted, plain, kinds


def run_plain(course: Path, force: bool) -> tuple[float, list[float]]:
    """Wall seconds of `nbgrader autograde`, and per student the seconds from its first to its last log line."""
    start = time.perf_counter()
    timestamped = "--Application.log_format=%(created).3f %(message)s"
    done = nbgrader(course, "autograde", MODULE, timestamped, *(["--force"] if force else []))
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"plain nbgrader autograde failed:\n{done.stderr[-3000:]}")
    stamps = re.findall(
        r"^(\d+\.\d+) (Creating/updating student|Setting destination file permissions)", done.stderr, re.M
    )
    begun = [float(t) for t, what in stamps if what.startswith("Creating")]
    ended = [float(t) for t, what in stamps if what.startswith("Setting")]
    return wall, [b - a for a, b in zip(begun, ended, strict=True)]


def run_ours(course: Path, workers: int) -> tuple[float, dict[str, tuple[str, float]]]:
    """Wall seconds of `python -m autograde grade --force`, and per student (score, seconds in the worker)."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "autograde", "grade", MODULE, "--force", "--workers", str(workers)]
    done = subprocess.run(command, cwd=course, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"python -m autograde grade failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    found = re.findall(r"^\[\d+/\d+\] (\S+) +(\S+)  (\d+\.\d) s$", done.stdout, re.M)
    return wall, {student: (score, float(seconds)) for student, score, seconds in found}


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

    from autograde import checks, classroom, preprocessors, sandbox

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

    def probes(*args, **kwargs):
        results = run_probes(*args, **kwargs)
        inside = sum(r.seconds for r in results.values() if r.status in ("ok", "error"))
        spent["sandbox: the probes themselves"] = spent.get("sandbox: the probes themselves", 0.0) + inside
        spent["sandbox: start, import, teardown"] = spent.get("sandbox: start, import, teardown", 0.0) - inside
        return results

    original_run_probes = sandbox.run_probes
    run_probes = stopwatch("sandbox: start, import, teardown", original_run_probes)
    patches = [
        (preprocessors, "scratch_package", "export (nbdev, scratch package)"),
        (checks, "load_fixtures", "fixtures (load .npz)"),
        (checks, "grade", "judges (compare with fixtures)"),
        (CheckCellMetadata, "preprocess", "nbgrader: CheckCellMetadata, twice (jsonschema)"),
        (OverwriteCells, "preprocess", "nbgrader: OverwriteCells (a query per cell)"),
        (Autograde, "init_assignment", "nbgrader: student, submission rows"),
        (SaveAutoGrades, "preprocess", "nbgrader: SaveAutoGrades (scores)"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, stage in patches:
        setattr(owner, name, stopwatch(stage, getattr(owner, name)))
    sandbox.run_probes = probes
    walls = []
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            assert api.autograde(MODULE, student, force=True)["success"]
            walls.append(time.perf_counter() - start)
    finally:
        sandbox.run_probes = original_run_probes
        for owner, name, original in originals:
            setattr(owner, name, original)
    stages = {stage: seconds / repeats for stage, seconds in spent.items()}
    stages["nbgrader: the rest (sanitize, notebooks, files)"] = statistics.mean(walls) - sum(stages.values())
    return statistics.median(walls), stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of ours per worker count (default 3)")
    parser.add_argument("--plain-rounds", type=int, default=1, help="timed runs of plain nbgrader (default 1)")
    parser.add_argument("--quick", action="store_true", help="10 submissions, one round each")
    parser.add_argument("--keep", action="store_true", help="keep the course copies (their path is printed)")
    args = parser.parse_args()
    if args.quick:
        args.students, args.rounds, args.plain_rounds = 10, 1, 1
    size = args.students
    base = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        trusted, plain, kinds = make_courses(base, size)
        counts = {kind: list(kinds.values()).count(kind) for kind in KINDS}
        print(f"Class of {size} submissions of {MODULE}: {counts}; course copies in {base}")
        print(f"cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.2f}\n")

        plain_walls, plain_each = [], []
        for round_ in range(args.plain_rounds):
            wall, each = run_plain(plain, force=round_ > 0)
            plain_walls.append(wall)
            plain_each += each
            print(f"(a) plain nbgrader, round {round_ + 1}: {wall:.1f} s")
        ours: dict[int, tuple[list[float], list[float]]] = {1: ([], []), 2: ([], [])}
        failures = []
        expected = {s: f"{KINDS[kinds[s]][1]:g}/{MAX:g}" for s in kinds}
        for round_ in range(args.rounds):
            for workers in (1, 2):  # taking turns, so a busy phase of the machine hits both alike
                wall, each = run_ours(trusted, workers)
                ours[workers][0].append(wall)
                ours[workers][1].extend(seconds for _, seconds in each.values())
                failures += [
                    f"{s}: {score}, expected {expected[s]}" for s, (score, _) in each.items() if score != expected[s]
                ]
                failures += [f"{s}: no progress line" for s in set(kinds) - set(each)]
                print(f"(b) ours, {workers} worker(s), round {round_ + 1}: {wall:.1f} s")
        print(f"load average at end: {os.getloadavg()[0]:.2f}\n")

        rows = [("(a) plain nbgrader (kernel)", plain_walls, plain_each)]
        rows += [(f"(b) ours, {w} worker{'s' if w > 1 else ''}", *ours[w]) for w in (1, 2)]
        print(f"{'':<30}{'class (median)':>16}{'s/submission':>14}{'per student (median)':>23}{'vs plain':>10}")
        plain_per = statistics.median(plain_walls) / size
        for name, walls, each in rows:
            per = statistics.median(walls) / size
            print(f"{name:<30}{statistics.median(walls):>14.1f} s{per:>12.2f} s{statistics.median(each):>21.2f} s"
                  f"{plain_per / per:>9.1f}x")  # fmt: skip
        speedup = statistics.median(ours[1][0]) / statistics.median(ours[2][0])
        print(f"2 workers vs 1: {speedup:.2f}x faster")
        class_of_50 = statistics.median(ours[2][0]) / size * 50
        verdict = "MET" if class_of_50 < TARGET else "MISSED"
        print(f"target: a class of 50 in under {TARGET:.0f} s with ours: {class_of_50:.1f} s"
              f"{' (scaled from ' + str(size) + ')' if size != 50 else ''}: {verdict}\n")  # fmt: skip

        plain_totals, our_totals = totals(plain), totals(trusted)
        print("Totals by kind of submission (plain nbgrader / ours):")
        for kind in KINDS:
            students = [s for s in kinds if kinds[s] == kind]
            if students:
                got_plain = "/".join(f"{t:g}" for t in sorted({plain_totals[s] for s in students}))
                got_ours = "/".join(f"{t:g}" for t in sorted({our_totals[s] for s in students}))
                print(f"  {kind:<10} plain {got_plain} of {MAX:g}, ours {got_ours}")
        cells = plain_cell_seconds(plain, list(kinds))
        print("Plain nbgrader's kernel, median seconds per notebook by kind of cell (the rest is kernel start-up and"
              " nbgrader):")  # fmt: skip
        print(
            "  "
            + ", ".join(f"{kind} {seconds:.2f} s" for kind, seconds in sorted(cells.items(), key=lambda kv: -kv[1]))
        )

        reference = next(s for s in kinds if kinds[s] == "reference")
        wall, stages = profile_one(trusted, reference, repeats=5)
        print(f"\nOne submission of ours in one process, warm: {wall:.2f} s (median of 5), spent on average in:")
        for name, seconds in stages.items():
            print(f"  {name:<52}{seconds:>6.3f} s {seconds / sum(stages.values()):>5.0%}")
        if failures:
            print("\nWRONG TOTALS:\n  " + "\n  ".join(failures[:20]))
            return 1
        return 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
