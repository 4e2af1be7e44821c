"""Reading and running course notebooks.

Notebooks are plain JSON; reading them needs only `json`. Running them needs a real Jupyter kernel
(nbclient), imported lazily because `import nbformat` costs seconds (2.3 s measured here).
"""

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Cells never run by tooling: the student's export would rewrite the package the tests are checking.
SKIP_TAGS = frozenset({"student-export"})


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def nbgrader(cell: dict) -> dict:
    """The cell's nbgrader metadata ({} when the cell has none)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_hidden_check(cell: dict) -> bool:
    """A graded placeholder cell whose points only the course's trusted grader awards."""
    return "hidden-check" in cell.get("metadata", {}).get("tags", [])


def graded_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if nbgrader(c).get("grade")]


@dataclass
class CellFailure:
    index: int
    grade_id: str
    error: str  # "ExceptionName: message"


@dataclass
class Run:
    """What executing a notebook top to bottom produced."""

    path: Path
    seconds: float
    notebook: dict
    failures: list[CellFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def graded(self) -> tuple[int, int, float, float]:
        """(test cells passed, test cells, points earned, points possible)."""
        failed = {f.grade_id for f in self.failures}
        cells = graded_cells(self.notebook)
        passed = [c for c in cells if nbgrader(c)["grade_id"] not in failed]
        points = lambda cs: float(sum(nbgrader(c).get("points", 0) for c in cs))  # noqa: E731
        return len(passed), len(cells), points(passed), points(cells)


def execute(path: Path, cell_timeout: int) -> Run:
    """Run every cell in a fresh kernel, recording failing cells instead of stopping at the first.

    The kernel starts in the notebook's folder, as it would in JupyterLab. It talks over
    Unix sockets in a private folder rather than TCP ports that any local process could reach.
    """
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [cell for cell in nb.cells if not SKIP_TAGS & set(cell.metadata.get("tags", []))]
    with tempfile.TemporaryDirectory(prefix="tinytorch-kernel-") as sockets:
        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(
            nb,
            km=kernel,
            timeout=cell_timeout,
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        )
        start = time.perf_counter()
        try:
            client.execute()
        finally:  # nbclient leaves a kernel it did not create running
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
        seconds = time.perf_counter() - start
    failures = [
        CellFailure(i, nbgrader(cell).get("grade_id", f"cell {i}"), f"{out['ename']}: {out['evalue']}")
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    return Run(path, seconds, json.loads(nbformat.writes(nb)), failures)
