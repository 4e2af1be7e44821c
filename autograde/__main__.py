"""`python -m autograde sample-class`: grade the sample class with nbgrader into a SQLite gradebook and print it.
`python -m autograde grade 03_layers`: grade a course's class in parallel workers, resumably (classroom.grade_class).

The sample class is autograde/samples' (the reference solution, two one-line bugs, a hostile submission, a blank
notebook), graded in a copy of the course under build/sample-course so that the real course's gradebook and
submitted/ folder are never touched.
"""

import argparse
import sys
from pathlib import Path

from autograde.classroom import MODULE, grade_class, grade_table
from autograde.samples import write_class
from tinytorch_course import settings
from tinytorch_course.course import copy_course, run_nbgrader


def sample_class() -> int:
    course = copy_course(settings.ROOT / "build" / "sample-course")

    def run(*args: str) -> bool:
        done = run_nbgrader(course, *args)
        if done.returncode:
            print(f"nbgrader {args[0]} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return done.returncode == 0

    if not run("generate_assignment", MODULE, "--force"):
        return 1
    students = write_class(course / "submitted", MODULE)
    print(f"Grading {MODULE} for the sample class ({', '.join(students)}) with nbgrader and the trusted checks...")
    if not (run("autograde", MODULE) and run("generate_feedback", MODULE)):
        return 1
    print(grade_table(course))
    print(f"\nGradebook: {course.relative_to(settings.ROOT)}/gradebook.db; feedback: .../feedback/<student>/{MODULE}/")
    return 0


def grade(course: Path, module: str, workers: int, students: list[str] | None, force: bool) -> int:
    try:
        report = grade_class(course, module, workers, students, force, progress=lambda line: print(line, flush=True))
    except ValueError as error:  # not a course root, module not generated, unknown student
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the students in progress were finished into the gradebook
        print("interrupted: run the same command again to grade the others", file=sys.stderr)
        return 130
    return 1 if any(outcome.problem for outcome in report.outcomes) else 0  # like `nbgrader autograde`


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("sample-class", help="grade the sample class in build/sample-course and print the gradebook")
    grading = commands.add_parser("grade", help="grade every submission of a module not yet completely graded")
    grading.add_argument("module", help="e.g. 03_layers")
    grading.add_argument("--workers", type=int, default=2, help="grading processes (default 2)")
    grading.add_argument("--student", action="append", dest="students", metavar="ID", help="regrade ID (repeatable)")
    grading.add_argument("--force", action="store_true", help="regrade everyone, graded or not")
    grading.add_argument("--course", type=Path, default=Path.cwd(), help="the course root (default: here)")
    args = parser.parse_args(argv)
    if args.command == "grade":
        return grade(args.course, args.module, args.workers, args.students, args.force)
    return sample_class()


if __name__ == "__main__":
    sys.exit(main())
