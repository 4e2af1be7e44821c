"""The student kit: the one folder a student receives (for a git repository, a zip, or nbgrader's exchange).

It holds the released notebooks (modules/), a pyproject.toml for the student's own `tinytorch` package,
an empty package skeleton, the student README, the exporter and the digits milestone script. Nothing of the
instructor's: no nbs/, no autograde/, no reference implementation.
"""

import json
import shutil
import tomllib
from pathlib import Path

from tinytorch_course import settings

TEMPLATE = Path(__file__).parent / "kit_template"
# The one copy of the digits milestone script: shipped in the kit, shown in both READMEs, run by `make demo`.
MILESTONE_SCRIPT = TEMPLATE / "train_digits.py"


def build(dest: Path, root: Path = settings.ROOT) -> Path:
    """Write the kit into `dest` (replaced if it exists) and return it."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = _package_version(root)
    dependencies = project["dependencies"]

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root / "modules", dest / "modules")
    pyproject = (TEMPLATE / "pyproject.toml.in").read_text(encoding="utf-8")
    pyproject = pyproject.replace("{version}", version).replace("{dependencies}", json.dumps(dependencies))
    (dest / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    shutil.copy(TEMPLATE / "README.md", dest / "README.md")
    # The milestone script the README ends with: run in the kit folder, it trains the student's own package.
    shutil.copy(MILESTONE_SCRIPT, dest / MILESTONE_SCRIPT.name)
    ignored = [".venv/", "__pycache__/", "*.egg-info/", ".ipynb_checkpoints/", "modules/llms.txt"]
    (dest / ".gitignore").write_text("\n".join(ignored) + "\n", encoding="utf-8")

    package = dest / "tinytorch"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text(
        f'"""My TinyTorch: filled by exporting the notebooks in modules/."""\n\n__version__ = "{version}"\n',
        encoding="utf-8",
    )
    (package / "core" / "__init__.py").write_text("", encoding="utf-8")

    tools = dest / "tinytorch_course"
    tools.mkdir()
    (tools / "__init__.py").write_text('"""The course\'s exporter: `python -m tinytorch_course.export`."""\n')
    shutil.copy(Path(__file__).parent / "export.py", tools / "export.py")
    # The launcher of the student's JupyterLab and the Jupyter configuration it puts first (kit README, step 2).
    shutil.copy(TEMPLATE / "lab.py", tools / "lab.py")
    shutil.copy(TEMPLATE / "exchange.py", tools / "exchange.py")
    shutil.copytree(TEMPLATE / "jupyter_config", tools / "jupyter_config")
    return dest


def _package_version(root: Path) -> str:
    for line in (root / "tinytorch" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip("\"'")
    raise ValueError("tinytorch/__init__.py has no __version__")
