"""The student's side, for real: the kit installs in a fresh venv, and what a student exports is theirs.

Uses the fixture `kit` (tests/conftest.py): the kit built by `python -m tinytorch_course kit`,
installed with pip into a new virtual environment that has no reference implementation in it.
"""

import filecmp
import json
import re
import subprocess

import pytest
from conftest import milestone_numbers, solve

from tinytorch_course import settings

pytestmark = pytest.mark.kit

ROOT = settings.ROOT
COURSE = settings.load()
MODULES = COURSE.modules
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


def test_kit_holds_the_release_and_nothing_of_the_instructor(kit):
    files = sorted(
        str(p.relative_to(kit.root))
        for p in kit.root.rglob("*")
        if p.is_file() and ".egg-info" not in str(p) and "__pycache__" not in str(p)
    )
    assert files == sorted([
        ".gitignore", "README.md", "pyproject.toml", "train_digits.py",
        *(f"modules/{m}/{m}.ipynb" for m in MODULES),
        "tinytorch/__init__.py", "tinytorch/core/__init__.py",
        "tinytorch_course/__init__.py", "tinytorch_course/export.py", "tinytorch_course/exchange.py",
        "tinytorch_course/lab.py", "tinytorch_course/jupyter_config/jupyter_server_config.json",
        "tinytorch_course/jupyter_config/nbgrader_config.py",
        "tinytorch_course/jupyter_config/labconfig/page_config.json",
    ])  # fmt: skip
    for module in MODULES:
        assert filecmp.cmp(kit.notebook(module), ROOT / "modules" / module / f"{module}.ipynb", shallow=False)
    for path in kit.root.rglob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path
    package = "".join(p.read_text() for p in (kit.root / "tinytorch").rglob("*.py"))
    assert "class " not in package and "def " not in package, "the package skeleton must be empty"


def test_kit_installs_its_own_package_and_its_notebooks_open(kit):
    where = kit.run("-c", "import tinytorch; print(tinytorch.__file__)", cwd=kit.root.parent).stdout
    assert where.strip() == str(kit.root / "tinytorch" / "__init__.py")
    missing = kit.run("-c", "import tinytorch.core.layers", check=False)
    assert "ModuleNotFoundError" in missing.stderr, "a fresh kit must not contain any layers implementation"
    for module in MODULES:
        check = "import nbformat, sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4)); print('ok')"
        assert kit.run("-c", check, str(kit.notebook(module))).stdout.strip() == "ok"


def test_student_exports_own_work_which_later_modules_and_scripts_import(kit, tmp_path):
    for module in MODULES:
        solve(kit.notebook(module), module)

    # 01 with the command outside the notebook; 02 and 03 by running the notebook, whose last cell exports it
    out = kit.run("-m", "tinytorch_course.export", "modules/01_tensor/01_tensor.ipynb").stdout
    assert "01_tensor.ipynb -> " in out and "tinytorch/core/tensor.py" in out
    for position, module in enumerate(MODULES[1:], 1):
        executed = _execute_in_kit(kit, module, tmp_path, extra_cell=_WHO_AM_I)
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{module}: {[(e['ename'], e['evalue']) for e in errors]}"
        origins = json.loads("".join(executed["cells"][-1]["outputs"][0]["text"]))
        # every module builds on all earlier ones (settings.ini's order), so it imports each of their package modules
        earlier = {f"tinytorch.{COURSE.exports[m]}" for m in MODULES[:position]}
        assert earlier <= set(origins), f"{module} imported {sorted(origins)}"
        for name, file in origins.items():
            assert file.startswith(str(kit.root)), f"{module} imported {name} from {file}, not the student's"

    where = kit.run("-c", "import tinytorch.core.layers as m; print(m.__file__)").stdout.strip()
    assert where == str(kit.root / "tinytorch" / "core" / "layers.py")


def test_kit_filled_with_the_reference_solutions_trains_digits_to_97_percent(kit, capsys):
    """The kit README's last step: every module completed and exported, `python train_digits.py` on the student's
    own package. The seconds are recorded in the test's output, never asserted (they depend on the machine)."""
    for module in MODULES:
        solve(kit.notebook(module), module)
    exported = kit.run("-m", "tinytorch_course.export").stdout
    assert all(f"{module}.ipynb -> " in exported for module in MODULES), exported

    run = kit.run("train_digits.py", "--check", check=False)
    with capsys.disabled():
        print(f"\nstudent kit, reference solutions exported: {run.stdout.strip()}")
    assert run.returncode == 0, f"train_digits.py --check failed:\n{run.stdout}{run.stderr[-3000:]}"
    epochs, _, accuracy = milestone_numbers(run.stdout)
    assert epochs == 60 and accuracy >= 97.0, run.stdout
    # what trained was the student's package: the kit's venv holds no other tinytorch
    for name in ("training", "data", "optimizers"):
        where = kit.run("-c", f"import tinytorch.core.{name} as m; print(m.__file__)").stdout.strip()
        assert where == str(kit.root / "tinytorch" / "core" / f"{name}.py")


def test_changing_a_line_of_the_notebook_changes_the_package(kit):
    for module in MODULES:
        solve(kit.notebook(module), module)
    kit.run("-m", "tinytorch_course.export")
    probe = (
        "from tinytorch.core.layers import Linear; from tinytorch.core.tensor import Tensor; "
        "print(Linear(2, 3)(Tensor([[0, 0]])).data.sum())"
    )
    assert float(kit.run("-c", probe).stdout) == 0.0

    # the student changes one line of their Linear.forward, saves and re-exports
    solve(
        kit.notebook("03_layers"),
        "03_layers",
        edit=lambda gid, src: (
            src.replace("output += self.bias.data", "output += self.bias.data + 1.0")
            if gid == "linear-implementation"
            else src
        ),
    )
    kit.run("-m", "tinytorch_course.export", "modules/03_layers/03_layers.ipynb")
    assert float(kit.run("-c", probe).stdout) == 3.0, "a fresh process must run the re-exported code"


@pytest.mark.parametrize(
    ("broken_line", "error"),
    [("        return Tensor(output))", "SyntaxError: unmatched ')'"), ("    typo = undefined_name", "NameError")],
)
def test_export_errors_name_notebook_cell_and_line(kit, broken_line, error):
    for module in MODULES:
        solve(kit.notebook(module), module)
    kit.run("-m", "tinytorch_course.export")
    source_lines = []

    def break_linear(grade_id, source):
        if grade_id != "linear-implementation":
            return source
        lines = source.splitlines()
        at = (
            lines.index("        return Tensor(output)")
            if "return" in broken_line
            else lines.index("    def forward(self, x: Tensor) -> Tensor:")
        )
        lines.insert(at, broken_line)
        source_lines[:] = lines
        return "\n".join(lines)

    solve(kit.notebook("03_layers"), "03_layers", edit=break_linear)
    result = kit.run("-m", "tinytorch_course.export", "modules/03_layers/03_layers.ipynb", check=False)
    assert result.returncode == 1
    cells = json.loads(kit.notebook("03_layers").read_text())["cells"]
    number = next(
        i
        for i, c in enumerate(cells, 1)
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "linear-implementation"
    )
    line = source_lines.index(broken_line) + 1
    expected = f"export failed: 03_layers.ipynb, cell {number} ('class Linear(Layer):'), line {line}: {error}"
    said = result.stderr.splitlines()
    assert said[0].startswith(expected) and "Traceback" not in result.stderr, result.stderr
    assert said[-1] == "1 of 1 notebooks not exported: 03_layers.ipynb" and len(said) <= 3, result.stderr


def test_export_skips_checkpoints_and_goes_on_after_a_failing_notebook(kit):
    for module in MODULES:
        solve(kit.notebook(module), module)
    # JupyterLab's autosave copy of a half-edited 03, and a broken 02: the first is not the student's notebook,
    # the second must not stop the others from being tried
    checkpoint = kit.notebook("03_layers").parent / ".ipynb_checkpoints" / "03_layers-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    solve(kit.notebook("03_layers"), "03_layers", lambda gid, src: src + "\n)")
    checkpoint.write_text(kit.notebook("03_layers").read_text())
    solve(kit.notebook("03_layers"), "03_layers")
    solve(kit.notebook("02_activations"), "02_activations", lambda gid, src: src.replace("return", "retur n", 1))
    result = kit.run("-m", "tinytorch_course.export", check=False)
    assert result.returncode == 1
    assert "checkpoint" not in result.stdout + result.stderr
    exported = [line.split(" -> ")[0] for line in result.stdout.splitlines()]
    assert exported == ["01_tensor.ipynb"], result.stdout + result.stderr
    # 03 was still tried: it needs the activations 02 did not export, and says so
    failures = [line for line in result.stderr.splitlines() if line.startswith("export failed: ")]
    assert [line.split(",")[0] for line in failures[:2]] == [
        "export failed: 02_activations.ipynb", "export failed: 03_layers.ipynb"
    ]  # fmt: skip
    assert "SyntaxError" in failures[0] and "No module named 'tinytorch.core.activations'" in failures[1]
    summary = f"{len(failures)} of {len(MODULES)} notebooks not exported: 02_activations.ipynb, 03_layers.ipynb"
    assert result.stderr.splitlines()[-1].startswith(summary)


def test_a_module_opened_before_the_earlier_ones_are_exported_says_which_to_export(kit, tmp_path):
    # Nothing exported yet: 03's first import cell names module 01, in the kernel JupyterLab would run it in.
    said = _run_in_kit(kit, "03_layers", tmp_path)
    errors = [line for line in ANSI.sub("", said.stderr).splitlines() if re.match(r"\w+(Error|Exception): ", line)]
    assert said.returncode != 0 and len(errors) == 1, said.stderr[-3000:]
    assert errors[0].startswith(
        "ImportError: tinytorch.core.tensor is not in your tinytorch package yet: finish 01_tensor.ipynb"
    ), errors
    assert "require_exported(" in said.stderr, "the error must come from the import cell's check"

    # 01 exported: now it is 02 that is missing
    solve(kit.notebook("01_tensor"), "01_tensor")
    kit.run("-m", "tinytorch_course.export", "modules/01_tensor/01_tensor.ipynb")
    said = _run_in_kit(kit, "03_layers", tmp_path)
    said.stderr = ANSI.sub("", said.stderr)
    expected = (
        "tinytorch.core.activations is not in your tinytorch package yet: finish 02_activations.ipynb and run its "
        "last cell (or `python -m tinytorch_course.export modules/02_activations/02_activations.ipynb`)"
    )
    assert said.returncode != 0 and expected in said.stderr, said.stderr[-3000:]


# Appended to a notebook: where its imports of earlier modules came from.
_WHO_AM_I = """import json, sys
print(json.dumps({m: sys.modules[m].__file__ for m in sorted(sys.modules) if m.startswith("tinytorch.core.")}))"""


def _execute_in_kit(kit, module: str, tmp_path, extra_cell: str) -> dict:
    """Run a kit notebook top to bottom with the kit's own Jupyter, as `jupyter nbconvert --execute` would."""
    run = _run_in_kit(kit, module, tmp_path, extra_cell)
    assert run.returncode == 0, f"{module} did not run in the kit:\n{run.stderr[-3000:]}"
    return json.loads((tmp_path / f"{module}.ipynb").read_text(encoding="utf-8"))


def _run_in_kit(kit, module: str, tmp_path, extra_cell: str | None = None) -> subprocess.CompletedProcess:
    """`jupyter nbconvert --execute` of a kit notebook (plus `extra_cell`), output in tmp_path; stops at an error."""
    nb = json.loads(kit.notebook(module).read_text(encoding="utf-8"))
    if extra_cell:
        nb["cells"].append({"cell_type": "code", "id": "who-am-i", "metadata": {}, "execution_count": None,
                            "outputs": [], "source": extra_cell})  # fmt: skip
    copy = kit.notebook(module).with_name(f"{module}-check.ipynb")
    copy.write_text(json.dumps(nb), encoding="utf-8")
    try:
        run = subprocess.run(
            [str(kit.bin / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--output",
             str(tmp_path / f"{module}.ipynb"), "--ExecutePreprocessor.timeout=120", str(copy)],
            env=kit.env(), capture_output=True, text=True,
        )  # fmt: skip
    finally:
        copy.unlink()
    return run
