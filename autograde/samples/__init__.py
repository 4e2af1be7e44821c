"""A sample class, built from the student release: for `make demo`, the grading tests and the benchmark.

A submission is the released notebook with the instructor's reference solutions written into its solution
cells (what a student who finished the module hands in), optionally with edits: a plausible bug, or hostile code.
"""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from tinytorch_course import notebooks, settings
from tinytorch_course.export import without_solution_markers

Edits = dict[str, list[tuple[str, str]]]  # grade_id -> [(old text, new text)] applied to the reference solution

# Looks for the fixtures, the instructor notebook and the host's secrets, prints what it finds and a megabyte
# more, and puts the course root (where the reference package lives) first on sys.path.
_SNOOP = """\
        import sys
        sys.path[:0] = ["/work/main", "../../.."]
        for path in ("/work/main/autograde/fixtures/03_layers.npz", "../../../nbs/03_layers/03_layers.ipynb",
                     "/root/.bashrc", "/etc/shadow"):
            try:
                print(open(path, "rb").read(200))
            except OSError:
                pass
        print("x" * 1_000_000)
"""

# module 03: who hands in what
CLASS: dict[str, Edits | None] = {
    # the reference solution: full marks
    "ada": {},
    # two one-line bugs: dropout scales survivors by p instead of 1/(1-p); parameters() forgets de-duplication
    "bob": {
        "dropout-implementation": [("x.data * mask / keep_prob", "x.data * mask * self.p")],
        "sequential-implementation": [("if id(param) not in seen:", "if True:")],
    },
    # hostile: snoops around the course, floods its output, tries the reference package, then hangs
    "mallory": {
        "linear-implementation": [("        return Tensor(output)", _SNOOP + "        return Tensor(output)")],
        "sequential-implementation": [
            ("        for layer in self.layers:\n            x = layer(x)", "        while True:\n            pass")
        ],
    },
    # the blank release: nothing written
    "zed": None,
}


def reference_solutions(module: str) -> dict[str, str]:
    """grade_id -> source of each solution cell of the instructor notebook, markers removed."""
    nb = notebooks.read(settings.load().notebook(module))
    return {
        notebooks.nbgrader(cell)["grade_id"]: without_solution_markers(notebooks.source(cell))
        for cell in nb["cells"]
        if notebooks.nbgrader(cell).get("solution")
    }


def solve(
    notebook: Path,
    module: str,
    edit: Callable[[str, str], str] = lambda grade_id, source: source,
    solutions: dict[str, str] | None = None,
) -> None:
    """Complete a released notebook in place with the reference solutions, each passed through `edit`."""
    solutions = solutions or reference_solutions(module)
    nb = notebooks.read(notebook)
    for cell in nb["cells"]:
        grade_id = notebooks.nbgrader(cell).get("grade_id")
        if grade_id in solutions:
            cell["source"] = edit(grade_id, solutions[grade_id])
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def apply(edits: Edits) -> Callable[[str, str], str]:
    """An `edit` for `solve` that makes each replacement exactly once (and fails loudly if it no longer fits)."""

    def edit(grade_id: str, source: str) -> str:
        for old, new in edits.get(grade_id, []):
            if source.count(old) != 1:
                raise ValueError(f"sample edit for {grade_id} no longer matches the reference: {old!r}")
            source = source.replace(old, new)
        return source

    return edit


def write_class(submitted: Path, module: str = "03_layers", students: dict[str, Edits | None] = CLASS) -> list[str]:
    """Write submitted/<student>/<module>/<module>.ipynb for each student; returns the student ids."""
    release = settings.load().released(module)
    solutions = reference_solutions(module)
    for student, edits in students.items():
        notebook = submitted / student / module / f"{module}.ipynb"
        notebook.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(release, notebook)
        if edits is not None:
            solve(notebook, module, apply(edits), solutions)
    return list(students)
