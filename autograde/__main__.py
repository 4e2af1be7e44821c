"""`python -m autograde demo`: grade the sample class with nbgrader into a SQLite gradebook and print it.

The class is autograde/samples' (the reference solution, two one-line bugs, a hostile submission, a blank
notebook), graded in a copy of the course under build/sample-course so that the real course's gradebook and
submitted/ folder are never touched.
"""

import argparse
import sys

from autograde.classroom import MODULE, copy_course, grade_table, nbgrader
from autograde.samples import write_class
from tinytorch_course import settings


def demo() -> int:
    course = copy_course(settings.ROOT / "build" / "sample-course")
    done = nbgrader(course, "generate_assignment", MODULE, "--force")
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return 1
    students = write_class(course / "submitted", MODULE)
    print(f"Grading {MODULE} for the sample class ({', '.join(students)}) with nbgrader and the trusted checks...")
    done = nbgrader(course, "autograde", MODULE)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    nbgrader(course, "generate_feedback", MODULE)
    print(grade_table(course))
    print(f"\nGradebook: {course.relative_to(settings.ROOT)}/gradebook.db; feedback: .../feedback/<student>/{MODULE}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde", description=__doc__)
    parser.add_argument("command", choices=["demo"])
    parser.parse_args(argv)
    return demo()


if __name__ == "__main__":
    sys.exit(main())
