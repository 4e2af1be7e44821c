"""nbgrader preprocessors that make `nbgrader autograde` grade with the trusted checks.

nbgrader's own autograde pipeline runs the student's notebook in a kernel and scores each graded cell by
whether it raised. Here the notebook is never run: `TrustedChecks` replaces nbgrader's `Execute`. It exports
the student's solution cells (nbdev, as the student's own export does) into a scratch package, runs each
check's probe on it in the sandbox (autograde/sandbox.py), judges the arrays in this process against the
fixtures, and writes each verdict into the graded cell of the same name: a feedback stream, plus an error
output when the check failed. nbgrader's `SaveAutoGrades` then stores the scores in the gradebook exactly as
it would for any notebook, and `generate_feedback` renders the verdicts.

`ForgetUnknownCells` runs before nbgrader's OverwriteCells during sanitizing, so that a graded cell pasted in
from another module does not stop the whole submission from being graded.

Module N is graded with the reference implementation of the modules before it, so a mistake in module 01 is
not punished again in module 03; the code under test is the student's own.
"""

import functools
import json
import re
import shutil
import tempfile
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Integer

from autograde import checks, sandbox
from tinytorch_course import notebooks, settings

REFERENCE = settings.ROOT / "tinytorch"
_DEFAULT_EXP = re.compile(r"^#\|\s*default_exp\s+(\S+)", re.MULTILINE)
# A worker grades many submissions: read and checksum the fixtures, read the settings and prepare the sandbox's
# runtime once per process.
_fixtures = functools.cache(checks.load_fixtures)
_course = functools.cache(settings.load)
_runtime = functools.cache(sandbox.prepare_runtime)


@functools.cache
def package_module(module: str) -> str:
    """The package module a course module exports to, e.g. '03_layers' -> 'core.layers'."""
    for cell in notebooks.read(_course().notebook(module))["cells"]:
        found = _DEFAULT_EXP.search(notebooks.source(cell))
        if found:
            return found[1]
    raise ValueError(f"{module} has no `#| default_exp` cell")


def scratch_package(nb: NotebookNode, module: str, dest: Path) -> Path:
    """`dest/tinytorch`: the reference modules that come before `module`, and the student's export of `module`.

    Raises ExportError (naming notebook, cell and line) when the student's code does not parse.
    """
    from nbdev.export import nb_export

    from tinytorch_course.export import CheckSyntax

    course = _course()
    package = dest / "tinytorch"
    (package / "core").mkdir(parents=True)
    for path in (package / "__init__.py", package / "core" / "__init__.py"):
        path.touch()
    for earlier in course.modules[: course.modules.index(module)]:
        relative = Path(*package_module(earlier).split(".")).with_suffix(".py")
        shutil.copy(REFERENCE / relative, package / relative)
    submitted = dest / f"{module}.ipynb"
    submitted.write_text(json.dumps(nb), encoding="utf-8")
    nb_export(str(submitted), lib_path=str(package), procs=[CheckSyntax])
    return package


def _outputs(verdict: checks.Verdict, title: str) -> list[NotebookNode]:
    outputs = [NotebookNode(output_type="stream", name="stdout", text=verdict.feedback + "\n")]
    if not verdict.passed:  # nbgrader gives 0 points to a graded cell with an error output
        outputs.append(
            NotebookNode(output_type="error", ename="CheckFailed", evalue=title, traceback=[f"CheckFailed: {title}"])
        )
    return outputs


class ForgetUnknownCells(NbGraderPreprocessor):
    """Make cells whose grade_id this notebook does not have (pasted from another module) ordinary cells.

    nbgrader 0.9.6's OverwriteCells deletes an unknown cell's grade_id but keeps the rest of its nbgrader
    metadata, and add_missing_grade_cells then fails with KeyError 'grade_id': the student got no grade at all.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            source = gradebook.find_notebook(info["notebook"], info["assignment"])
            known = {cell.name for cell in source.source_cells}
        for index, cell in enumerate(nb.cells):
            grade_id = notebooks.nbgrader(cell).get("grade_id")
            if "nbgrader" in cell.metadata and grade_id not in known:
                self.log.warning(
                    "cell %d: %r is not a cell of %s; graded as an ordinary cell", index, grade_id, info["notebook"]
                )
                del cell.metadata["nbgrader"]
        return nb, resources


class TrustedChecks(NbGraderPreprocessor):
    """Score every graded cell with the trusted check of its grade_id, run on the student's exported code."""

    # Defaults are the sandbox's; nbgrader_config.py sets them from settings.ini [grading].
    timeout = Float(sandbox.Limits.timeout, help="Wall-clock seconds per submission").tag(config=True)
    probe_timeout = Float(sandbox.Limits.probe_timeout, help="Seconds for import and each probe").tag(config=True)
    memory = Integer(sandbox.Limits.memory, help="Address space per sandboxed process, bytes").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        module = resources["nbgrader"]["assignment"]
        module_checks = {check.name: check for check in checks.CHECKS[module]}
        verdicts = self._verdicts(nb, module, list(module_checks.values()))
        for cell in nb.cells:
            meta = notebooks.nbgrader(cell)
            name = meta.get("grade_id")
            if meta.get("grade") and name in verdicts:
                cell.outputs = _outputs(verdicts[name], module_checks[name].title)
                cell.execution_count = None
        resources["nbgrader"]["trusted_scores"] = {name: v.score for name, v in verdicts.items()}
        return nb, resources

    def _verdicts(self, nb: NotebookNode, module: str, module_checks: list[checks.Check]) -> dict[str, checks.Verdict]:
        from tinytorch_course.export import ExportError

        fixtures = _fixtures(module)
        probes = sorted({check.probe for check in module_checks})
        with tempfile.TemporaryDirectory(prefix="tinytorch-grade-") as scratch:
            try:
                package = scratch_package(nb, module, Path(scratch))
            except ExportError as error:
                return {c.name: checks.grade(c, None, fixtures[c.probe], f"your code does not parse: {error}")
                        for c in module_checks}  # fmt: skip
            limits = sandbox.Limits(timeout=self.timeout, probe_timeout=self.probe_timeout, memory=self.memory)
            results = sandbox.run_probes(
                package.parent,
                checks.probe_file(module),
                probes,
                {name: fixtures[name].inputs for name in probes},
                limits,
                runtime=_runtime(),
            )
        verdicts = {}
        for check in module_checks:
            result = results[check.probe]
            error = result.error if result.status in ("ok", "error") else f"{result.status}: {result.error}"
            verdicts[check.name] = checks.grade(check, result.outputs, fixtures[check.probe], error)
            self.log.info("%s %s: %s", module, check.name, "passed" if verdicts[check.name].passed else "failed")
        return verdicts
