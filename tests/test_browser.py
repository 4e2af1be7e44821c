"""A student finishes module 03 in JupyterLab, for real: the kit's own JupyterLab, driven in Debian's chromium.

JupyterLab starts as the kit README says, `python -m tinytorch_course.lab`. A released notebook opens unmodified,
and the student sees nbgrader's Validate and Assignment List but none of the instructor's tools.
The student has completed and exported modules 01 and 02. In the browser they fill in the three solution cells
of 03, run all cells, save, and click nbgrader's Validate button, which must report success. Afterwards a fresh
Python of the kit imports the student's own layers. Modules 05 and 07 go the same way on every earlier module
exported from the command line; after 07 the kit's train_digits.py trains the student's package. The shared kit is
put back as released afterwards.
"""

import json
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, StudentKit, reference_solutions, solve
from playwright.sync_api import Locator, Page, sync_playwright

from autograde import packs
from autograde.samples import CLASS, write_class
from tinytorch_course import settings
from tinytorch_course.course import copy_course, run_nbgrader

pytestmark = [pytest.mark.browser, pytest.mark.kit]

CHROMIUM = "/usr/bin/chromium"
# As root chromium needs --no-sandbox; the rest keeps it from dialling out on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SUCCESS = "Success! Your notebook passes all the tests."
MODULES = settings.load().modules
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# JavaScript run in the page; `window.jupyterapp` exists because the server runs with expose_app_in_browser.
NOTEBOOK = "window.jupyterapp?.shell?.currentWidget"  # undefined until the app has loaded
KERNEL_IDLE = f"() => {NOTEBOOK}?.context?.isReady && {NOTEBOOK}.sessionContext?.session?.kernel?.status === 'idle'"
SAVED = f"() => {NOTEBOOK}.context.model.dirty === false"
FILL_SOLUTIONS = f"""solutions => {{
    const filled = [];
    for (const cell of {NOTEBOOK}.content.model.cells) {{
        const id = cell.getMetadata('nbgrader')?.grade_id;
        if (id in solutions) {{ cell.sharedModel.setSource(solutions[id]); filled.push(id); }}
    }}
    return filled;
}}"""
# Run All Cells; resolves when the run ends (true if no cell failed), or to "timeout".
RUN_ALL = """() => Promise.race([window.jupyterapp.commands.execute('notebook:run-all-cells'),
                             new Promise(resolve => setTimeout(() => resolve('timeout'), 60000))])"""
OUTPUTS = f"""() => [...{NOTEBOOK}.content.model.cells].filter(c => c.type === 'code').map(c => ({{
    id: c.getMetadata('nbgrader')?.grade_id, count: c.executionCount, outputs: c.outputs.toJSON() }}))"""


@dataclass(frozen=True)
class Lab:
    url: str
    token: str


@pytest.fixture
def lab(kit: StudentKit, tmp_path: Path) -> Iterator[Lab]:
    """The kit's JupyterLab as its README starts it, with config, data, runtime and home dirs of its own; stopped
    by PID. Only the kit's own Jupyter configuration applies (what the launcher adds to JUPYTER_CONFIG_PATH)."""
    home = tmp_path / "home"
    config = home / ".jupyter"
    env = kit.env(
        HOME=str(home), IPYTHONDIR=str(home / ".ipython"), JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_PATH="", JUPYTER_CONFIG_PATH="",
    )  # fmt: skip

    jupyter = str(kit.bin / "jupyter")
    launcher = [str(kit.python), "-m", "tinytorch_course.lab"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*launcher, "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
             f"--ServerApp.root_dir={kit.root}"],
            cwd=kit.root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # nbgrader's Validate button needs its lab extension and its server extension. Installing nbgrader enables
        # both, under the venv's share/ and etc/ (found via sys.prefix): nothing to enable here, only to check.
        def listing(command: list[str]) -> str:
            done = subprocess.run([jupyter, *command, "list"], env=env, capture_output=True, text=True, timeout=60)
            return ANSI.sub("", done.stdout + done.stderr)

        with ThreadPoolExecutor() as pool:  # while the server starts
            server_ext, lab_ext = pool.map(listing, (["server", "extension"], ["labextension"]))
        assert re.search(r"nbgrader\.server_extensions\.validate_assignment enabled", server_ext), server_ext
        assert re.search(r"@jupyter/nbgrader v\S+ enabled OK", lab_ext), lab_ext

        url = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{url}/api/status", token, server, log)
        yield Lab(url, token)
    finally:
        server.terminate()  # the server shuts down its kernels on SIGTERM
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def chromium_page() -> Iterator[Page]:
    """A page in Debian's chromium, driven through Playwright; the browser is closed afterwards."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def _open_notebook(page: Page, lab: Lab, path: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")
    page.wait_for_function(KERNEL_IDLE)


def _wait_until_up(status_url: str, token: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    request = urllib.request.Request(status_url, headers={"Authorization": f"token {token}"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"JupyterLab exited with {server.returncode}:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()}")


# nbgrader's commands in the page: a disabled lab extension registers none of its own.
NBGRADER_COMMANDS = """() => ['assignment-list', 'formgrader', 'formgrader-local', 'create-assignment', 'course-list']
    .filter(name => window.jupyterapp.commands.hasCommand('nbgrader:open-' + name))"""
LANGUAGE_KNOWN = f"() => {NOTEBOOK}?.context?.model?.getMetadata('language_info')?.version !== undefined"
DIRTY = f"() => {NOTEBOOK}.context.model.dirty"


def test_a_released_notebook_opens_unmodified_with_only_the_students_nbgrader_tools(kit: StudentKit, lab: Lab) -> None:
    with chromium_page() as page:
        _open_notebook(page, lab, "modules/01_tensor/01_tensor.ipynb")
        # JupyterLab writes the kernel's language_info (and kernelspec) once the kernel is up: only then could the
        # notebook turn modified.
        page.wait_for_function(LANGUAGE_KNOWN)
        assert page.evaluate(DIRTY) is False, "a freshly opened release is marked modified"
        assert page.locator(".validate-button").count() == 1

        assert page.evaluate(NBGRADER_COMMANDS) == ["assignment-list"]
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        menu = page.locator("#jp-mainmenu-nbgrader")
        assert menu.inner_text().split() == ["Assignment", "List"], menu.inner_text()
        page.keyboard.press("Escape")
        # JupyterLab asks whether to fetch its news unless the server says news are off.
        page_config = json.loads(page.locator("#jupyter-config-data").text_content())
        assert page_config["news"] == {"disabled": True}, page_config.get("news")

        # No exchange is configured here: the Assignment List says so once (no course), with no error in it.
        page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
        assignments = page.locator("#nbgrader-assignment-list")
        page.locator("#course_list_default", has_text="No courses found.").wait_for()
        text = assignments.inner_text()
        assert text.count("No courses found.") == 1 and "rror" not in text and "exchange" not in text, text
    formgrader = urllib.request.Request(f"{lab.url}/formgrader", headers={"Authorization": f"token {lab.token}"})
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(formgrader, timeout=10)


def test_student_completes_and_validates_module_03_in_jupyterlab(kit: StudentKit, lab: Lab, tmp_path: Path) -> None:
    _export_earlier_modules(kit, "03_layers")
    solutions = reference_solutions("03_layers")
    screenshot = tmp_path / "validate-03_layers.png"
    with chromium_page() as page:
        cells = _fill_save_and_run_all(page, lab, "03_layers", solutions)
        texts = {c["id"]: json.dumps(c["outputs"]) for c in cells}
        assert "parameters: 203,530" in texts["sequential-mlp-example"], texts["sequential-mlp-example"]
        assert str(kit.root / "tinytorch" / "core" / "layers.py") in texts["layers-setup-export"]
        dialog = _validate(page)
        assert dialog.locator(".validation-success").count() == 1, dialog.inner_text()
        page.screenshot(path=screenshot)

    assert screenshot.stat().st_size > 20_000, "the screenshot of the validation result is (nearly) empty"
    (ROOT / "build" / "screenshots").mkdir(parents=True, exist_ok=True)  # git-ignored; for people to look at
    shutil.copy(screenshot, ROOT / "build" / "screenshots")

    # What the browser saved is the student's work, and a fresh process imports it from the kit.
    saved = json.loads(kit.notebook("03_layers").read_text(encoding="utf-8"))
    sources = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in saved["cells"]}
    assert all(sources[gid] == code for gid, code in solutions.items()), "the saved notebook lacks the solutions"
    where = kit.run("-c", "import tinytorch.core.layers as m; print(m.__file__)").stdout.strip()
    assert where == str(kit.root / "tinytorch" / "core" / "layers.py")
    probe = (
        "import numpy as np; from tinytorch.core.layers import Linear, Sequential; from tinytorch.core.tensor import "
        "Tensor; print(Sequential(Linear(4, 3, bias=False)).eval()(Tensor(np.ones((2, 4)))).shape)"
    )
    assert kit.run("-c", probe).stdout.strip() == "(2, 3)"


def test_student_completes_and_validates_module_05_autograd_in_jupyterlab(kit: StudentKit, lab: Lab) -> None:
    """The autograd module, on the student's own 01-04 exported from the command line."""
    _complete_run_and_validate(kit, lab, "05_autograd")
    where = kit.run("-c", "import tinytorch.core.autograd as m; print(m.__file__)").stdout.strip()
    assert where == str(kit.root / "tinytorch" / "core" / "autograd.py")


def test_student_completes_and_validates_module_07_training_in_jupyterlab(kit: StudentKit, lab: Lab) -> None:
    """The training module, whose analysis cells train the digits network: its milestone reaches 97% in the student's
    kernel, and afterwards the kit's train_digits.py (the README's last step) trains the student's package too."""
    cells = _complete_run_and_validate(kit, lab, "07_training")
    milestone = next(json.dumps(c["outputs"]) for c in cells if c["id"] == "training-analysis-milestone")
    accuracy = re.search(r"test accuracy (\d+\.\d)%", milestone)
    assert accuracy and float(accuracy[1]) >= 97.0, milestone
    for name in ("training", "data"):
        where = kit.run("-c", f"import tinytorch.core.{name} as m; print(m.__file__)").stdout.strip()
        assert where == str(kit.root / "tinytorch" / "core" / f"{name}.py")
    trained = kit.run("train_digits.py", "--check").stdout
    assert float(re.search(r"test accuracy (\d+\.\d)%", trained)[1]) >= 97.0, trained


def _export_earlier_modules(kit: StudentKit, module: str) -> None:
    """The student completes every module before `module` and exports them from the command line."""
    earlier = MODULES[: MODULES.index(module)]
    for name in earlier:
        solve(kit.notebook(name), name)
    exported = kit.run("-m", "tinytorch_course.export", *(f"modules/{m}/{m}.ipynb" for m in earlier)).stdout
    assert all(f"{name}.ipynb -> " in exported for name in earlier), exported


def _fill_save_and_run_all(page: Page, lab: Lab, module: str, solutions: dict[str, str]) -> list[dict]:
    """Open `module` in JupyterLab, fill its solution cells, save, run all cells (none may raise) and save again.
    Returns the notebook's code cells as run in the page: grade_id, execution count, outputs."""
    _open_notebook(page, lab, f"modules/{module}/{module}.ipynb")
    filled = page.evaluate(FILL_SOLUTIONS, solutions)
    assert sorted(filled) == sorted(solutions), f"solution cells found by grade_id: {filled}"
    _save(page)  # the notebook's last cell exports the *saved* notebook
    ran = page.evaluate(RUN_ALL)
    page.wait_for_function(KERNEL_IDLE)
    cells = page.evaluate(OUTPUTS)
    errors = [(c["id"], o["ename"], o["evalue"]) for c in cells for o in c["outputs"] if "ename" in o]
    assert not errors, f"cells raised: {errors}"
    not_run = [c["id"] for c in cells if not c["count"]]
    assert ran is True and not not_run, f"Run All Cells returned {ran}; cells not run: {not_run}"
    _save(page)
    return cells


def _validate(page: Page) -> Locator:
    """Click nbgrader's Validate, which must report success; returns the result dialog."""
    page.locator(".validate-button").click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for()
    assert SUCCESS in dialog.inner_text(), dialog.inner_text()
    return dialog


def _complete_run_and_validate(kit: StudentKit, lab: Lab, module: str) -> list[dict]:
    """A student who has completed and exported every earlier module (from the command line) fills `module`'s solution
    cells in the browser, saves, runs all cells and validates with nbgrader's button, which must report success.
    Returns the notebook's code cells as run in the page."""
    _export_earlier_modules(kit, module)
    with chromium_page() as page:
        cells = _fill_save_and_run_all(page, lab, module, reference_solutions(module))
        _validate(page)
    return cells


def _save(page: Page) -> None:
    """Ctrl+S, as a student saves, then wait until the notebook on disk matches the page."""
    page.keyboard.press("Control+s")
    page.wait_for_function(SAVED)


# In the feedback page: the verdicts (graded cells' outputs), and whether each fits inside the page.
VERDICTS = """() => [...document.querySelectorAll('.output_area pre')].map(pre => ({
    text: pre.innerText, overflows: pre.scrollWidth > pre.clientWidth + 1,
    right: pre.getBoundingClientRect().right, width: document.documentElement.clientWidth }))"""
# The first display formula's first subscript, as the browser laid it out: MathML sets it lower and smaller than its
# base (as text, both would share a baseline and a size).
SUBSCRIPT = """() => {
    const sub = document.querySelector('math[display="block"] msub');
    if (!(sub instanceof MathMLElement)) return null;
    const [base, index] = sub.children;
    return { drop: index.getBoundingClientRect().bottom - base.getBoundingClientRect().bottom,
             scale: parseFloat(getComputedStyle(index).fontSize) / parseFloat(getComputedStyle(base).fontSize) };
}"""


@pytest.fixture(scope="module")
def feedback_page(tmp_path_factory) -> Path:
    """bob's feedback on 03_layers: a course copy graded by `nbgrader autograde`, then `nbgrader generate_feedback`."""
    course = copy_course(tmp_path_factory.mktemp("feedback") / "course")
    assert run_nbgrader(course, "generate_assignment", "03_layers", "--force").returncode == 0
    write_class(course / "submitted", "03_layers", {"bob": CLASS["bob"]})
    for command in ("autograde", "generate_feedback"):
        done = run_nbgrader(course, command, "03_layers")
        assert done.returncode == 0, done.stderr[-3000:]
    return course / "feedback" / "bob" / "03_layers" / "03_layers.html"


@pytest.mark.sandbox  # nbgrader autograde runs the checks in the grader's sandbox
def test_feedback_reads_whole_offline_with_each_check_named(feedback_page: Path) -> None:
    requested = []
    with chromium_page() as page:
        page.set_viewport_size({"width": 900, "height": 900})  # narrower than a verdict's longest line
        # Offline: anything but the file itself is refused, and recorded.
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else (
            requested.append(route.request.url), route.abort()))  # fmt: skip
        page.goto(feedback_page.as_uri())

        verdicts = page.evaluate(VERDICTS)
        failed = [v for v in verdicts if ": failed." in v["text"]]
        assert failed, "bob's feedback must hold failed verdicts"
        cut = [v["text"][:80] for v in verdicts if v["overflows"] or v["right"] > v["width"]]
        assert not cut, f"verdicts cut off at the right edge: {cut}"
        assert any(len(line) > 120 for v in failed for line in v["text"].splitlines()), "no long verdict line tested"

        subscript = page.evaluate(SUBSCRIPT)
        assert subscript and subscript["drop"] > 0 and subscript["scale"] < 0.9, f"math not rendered: {subscript}"

        summary = page.locator("#toc li").all_inner_texts()
        titles = [check.title for check in packs.load("03_layers").checks]
        assert sorted(line.split(" (Score:")[0] for line in summary) == sorted(titles), summary  # notebook order
    assert not requested, f"the feedback page reached for the network: {requested}"
