"""`python -m tinytorch_course.lab`: JupyterLab as this course sets it up for a student.

It starts `jupyter lab` with this folder's jupyter_config/ first on JUPYTER_CONFIG_PATH, which turns off
nbgrader's instructor tools (Formgrader, Create Assignment, the course list) and JupyterLab's news, and keeps
Validate and the Assignment List. Being inside the package, it works from an editable install as from a wheel.
"""

import json
import os
import sys
from pathlib import Path

CONFIG = Path(__file__).parent / "jupyter_config"


def stamp_language_info(modules: Path) -> None:
    """Write into each module notebook the language_info the kernel of this Python will report.

    JupyterLab writes it when the kernel starts and marks the notebook modified when it changed; it holds the
    exact Python version, which only this machine knows, so a notebook is given it here and opens unmodified.
    """
    from ipykernel.ipkernel import IPythonKernel

    language_info = IPythonKernel.language_info
    for path in sorted(modules.glob("*/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if nb.get("metadata", {}).get("language_info") != language_info:
            nb.setdefault("metadata", {})["language_info"] = language_info
            path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    stamp_language_info(Path.cwd() / "modules")
    paths = [str(CONFIG), *filter(None, os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    args = sys.argv[1:] if argv is None else argv
    os.execv(sys.executable, [sys.executable, "-m", "jupyterlab", *args])


if __name__ == "__main__":
    main()
