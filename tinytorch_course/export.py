"""Export notebooks into the package, and explain export errors in notebook terms.

This one file serves both sides of the course.
- Instructors: nbdev runs `strip_solution_markers` and `CheckSyntax` when it exports nbs/ into the
  reference package (`export_procs` in pyproject.toml).
- Students: the student kit ships this file. `export("03_layers.ipynb")`, the last cell of every module,
  or `python -m tinytorch_course.export` writes the student's saved notebooks into the student's own
  `tinytorch` package. Errors name the notebook, the cell and the line as the student sees them.

Only the standard library and nbdev are used here: the kit ships nothing else of the course tooling.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

# nbgrader's delimiters, matched as whole lines the way nbgrader itself finds them.
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
# The line nbdev writes above each exported cell: `# %% ../../modules/03_layers/03_layers.ipynb #1a2b3c4d`.
_CELL_HEADER = re.compile(r"^# %% (?P<notebook>\S+\.ipynb) #(?P<cell_id>\S+)$")


class ExportError(Exception):
    """An export that did not produce importable code; the message is written for the student."""


def without_solution_markers(source: str) -> str:
    """`source` without its `### BEGIN SOLUTION` / `### END SOLUTION` lines."""
    return _MARKER.sub("", source)


def strip_solution_markers(cell):
    """nbdev export processor: drop `### BEGIN SOLUTION` / `### END SOLUTION` lines from exported code."""
    if cell.cell_type == "code" and "### " in cell.source:
        cell.source = without_solution_markers(cell.source)


class CheckSyntax:
    """nbdev export processor: refuse to write a module from an exported cell that is not valid Python."""

    def __init__(self, nb):
        self.notebook = Path(nb.path_)

    def __call__(self, cell):
        if cell.cell_type != "code" or not {"export", "exports"} & set(cell.directives_):
            return
        try:
            compile(cell.source, "<cell>", "exec")
        except SyntaxError as error:
            # nbdev has already removed the cell's `#| ...` lines; count them back in
            line = (error.lineno or 1) + len(cell.directives_)
            where = _describe_cell(self.notebook, cell.get("id"), line)
            raise ExportError(f"{where}: SyntaxError: {error.msg}\n    {(error.text or '').strip()}") from None


def export(notebook: str | os.PathLike) -> list[Path]:
    """Export one saved notebook into its project's package and check that the result imports.

    Returns the package modules written. Raises ExportError with the notebook, cell and line of a problem.
    """
    from nbdev.config import get_config
    from nbdev.doclinks import nbdev_export

    path = Path(notebook).resolve()
    if not path.is_file():
        raise ExportError(f"{path}: no such notebook (save it first, and run this from its folder)")
    config = get_config(path.parent)
    notebooks_root = Path(config.nbs_path).resolve()
    if notebooks_root not in path.parents:
        raise ExportError(f"{path.name}: not under {notebooks_root}, the notebooks this project exports; not exported")
    nbdev_export(str(path))
    written = _modules_from(path, Path(config.lib_path))
    for module in written:
        _check_import(module, Path(config.config_path))
    return written


def _modules_from(notebook: Path, package: Path) -> list[Path]:
    """The package modules whose cells come from `notebook`."""
    found = []
    for module in sorted(package.rglob("*.py")):
        for line in module.read_text(encoding="utf-8").splitlines():
            match = _CELL_HEADER.match(line)
            if match and (module.parent / match["notebook"]).resolve() == notebook:
                found.append(module)
                break
    return found


def _check_import(module: Path, project: Path) -> None:
    """Import the module in a fresh interpreter, as a later notebook would, and map failures to cells."""
    dotted = ".".join(module.relative_to(project).with_suffix("").parts)
    result = subprocess.run(
        [sys.executable, "-c", f"import {dotted}"], cwd=project, capture_output=True, text=True, timeout=120
    )
    if result.returncode == 0:
        return
    frames = re.findall(rf'File "{re.escape(str(module))}", line (\d+)', result.stderr)
    message = result.stderr.strip().splitlines()[-1]
    if frames:
        raise ExportError(f"{_locate(module, int(frames[-1]))}: {message}")
    raise ExportError(f"importing {dotted} failed: {message}")


def _locate(module: Path, lineno: int) -> str:
    """Map a line of an exported module back to its notebook cell and the line inside that cell."""
    lines = module.read_text(encoding="utf-8").splitlines()
    for index in range(min(lineno, len(lines)) - 1, -1, -1):
        match = _CELL_HEADER.match(lines[index])
        if match:
            notebook = (module.parent / match["notebook"]).resolve()
            cell = _find_cell(notebook, match["cell_id"])
            offset = lineno - (index + 1) + (_directive_lines(cell) if cell else 0)
            return _describe_cell(notebook, match["cell_id"], offset)
    return f"{module}, line {lineno}"


def _find_cell(notebook: Path, cell_id: str | None) -> dict | None:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return next((c for c in cells if c.get("id") == cell_id), None)


def _directive_lines(cell) -> int:
    """How many leading `#| ...` lines nbdev removed from the cell before exporting it."""
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return sum(1 for _ in re.finditer(r"^#\|.*$", source, re.MULTILINE))


def _describe_cell(notebook: Path, cell_id: str | None, line: int) -> str:
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells, start=1):
        if cell.get("id") == cell_id:
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            first_code = next((s for s in source.splitlines() if s.strip() and not s.startswith("#|")), "")
            return f"{Path(notebook).name}, cell {number} ({first_code.strip()!r}), line {line}"
    return f"{Path(notebook).name}, line {line}"


def project_notebooks(root: Path) -> list[Path]:
    """The module notebooks under `root` a student edits: not JupyterLab's .ipynb_checkpoints copies, nor anything
    else in a hidden folder."""
    found = sorted(root.rglob("[0-9]*.ipynb"))
    return [p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts)]


def require_exported(earlier: dict[str, str]) -> None:
    """Before a notebook imports the code of earlier modules: `earlier` maps each of those notebooks to the package
    module it exports to. Raises ImportError saying which module to finish and export first when one is missing."""
    import importlib.util

    for notebook, module in earlier.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # its parent package is missing too
            found = False
        if not found:
            raise ImportError(
                f"{module} is not in your tinytorch package yet: finish {notebook}.ipynb and run its last cell "
                f"(or `python -m tinytorch_course.export modules/{notebook}/{notebook}.ipynb`), then restart this "
                "notebook's kernel."
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tinytorch_course.export",
        description="Export saved module notebooks into the tinytorch package of this folder.",
    )
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: every module notebook of the project)")
    args = parser.parse_args(argv)
    from nbdev.config import get_config

    paths = [Path(p) for p in args.notebooks] or project_notebooks(Path(get_config().nbs_path))
    failed = []
    for path in paths:  # one notebook's error does not stop the others
        try:
            for module in export(path):
                print(f"{path.name} -> {module}")
        except ExportError as error:
            print(f"export failed: {error}", file=sys.stderr)
            failed.append(path.name)
    if failed:
        print(f"{len(failed)} of {len(paths)} notebooks not exported: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    # `python -m` runs this file as `__main__`, a second copy of the module beside `tinytorch_course.export`, whose
    # ExportError is the one nbdev's export processors raise: run that module's main so that it catches them.
    from tinytorch_course.export import main as _main

    sys.exit(_main())
