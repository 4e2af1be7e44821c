"""nbgrader preprocessors that make `nbgrader autograde` grade with the trusted checks.

nbgrader's own autograde pipeline runs the student's notebook in a kernel and scores each graded cell by
whether it raised. Here the notebook is never run: `TrustedChecks` replaces nbgrader's `Execute`. It exports
the student's solution cells (nbdev, as the student's own export does) into a scratch package, runs each
check's probe on it in the sandbox (autograde/sandbox.py), judges the arrays in this process against the
fixtures, and writes each verdict into the graded cell of the same name: a feedback stream, plus an error
output when the check failed. nbgrader's `SaveAutoGrades` then stores the scores in the gradebook exactly as
it would for any notebook, and `generate_feedback` renders the verdicts.

A damaged submission is graded like the intact notebook its solution code belongs to. `RestoreCells` rebuilds its
cell list during sanitizing, before any of nbgrader's preprocessors read the nbgrader metadata: nbgrader 0.9.6's
own `add_missing_cells` fails with KeyError when a missing graded cell follows a read-only one (as when the last
three of 03_layers are deleted), and a cell whose metadata schema version was edited stops a whole `nbgrader
autograde` run. `SubmissionExporter` refuses a file that is not a notebook, with the reason (`notebook_problem`)
in nbgrader's log.

A mistake is punished once. Module N is graded with the reference implementation of the modules before it, so a
mistake in module 01 is not punished again in module 03; and each component of module N (settings.ini [components],
one solution cell `<component>-implementation` each) is graded in isolation: its checks run on a package exported
from the student's notebook with every other component's solution cell replaced by the reference's, in a sandbox run
of its own. A cell that does not parse or fails at import, a hang, a crash or a memory bomb costs only the checks
of its own component, and a bug in Linear is not punished again in Sequential's checks. The code under test is the
student's own: the reference of the component being graded is never in its package. A component without a solution
cell of its own (module 02's `module`, the contract every activation keeps) is graded on all of the student's code.
"""

import bisect
import copy
import dataclasses
import functools
import json
import logging
import shutil
import tempfile
from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbformat import NotebookNode, from_dict
from nbformat.v4.nbbase import random_cell_id
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Integer

from autograde import fixture_io, judging, packs, sandbox
from tinytorch_course import export, notebooks, settings

REFERENCE = settings.ROOT / "tinytorch"
RESTORED = "autograde"  # metadata of a cell RestoreCells put back: {"missing": true}
# A worker grades many submissions: read and checksum the fixtures, read the settings and prepare the sandbox's
# runtime once per process.
_fixtures = functools.cache(fixture_io.load_fixtures)
_course = functools.cache(settings.load)
_runtime = functools.cache(sandbox.prepare_runtime)
SOLUTION_SUFFIX = "-implementation"  # a component's solution cell is `<component>-implementation`


@functools.cache
def _reference_solutions(module: str) -> dict[str, str]:
    """grade_id -> the instructor's source of each solution cell of `module` (read once per grading process)."""
    from autograde.samples import reference_solutions

    return reference_solutions(module)


def isolated_notebook(nb: NotebookNode, module: str, component: str) -> NotebookNode:
    """The student's notebook for grading `component` alone: every other component's solution cell holds the
    reference's code; the component's own solution cell and every cell that is no component's stay the student's.
    A component without a solution cell of its own gets the student's notebook unchanged."""
    references = _reference_solutions(module)
    if f"{component}{SOLUTION_SUFFIX}" not in references:
        return nb
    isolated = copy.deepcopy(nb)
    for cell in isolated.cells:
        name = _grade_id(cell)
        if notebooks.nbgrader(cell).get("solution") and name in references and name != f"{component}{SOLUTION_SUFFIX}":
            cell.source = references[name]
    return isolated


def scratch_package(nb: NotebookNode, module: str, dest: Path) -> Path:
    """`dest/tinytorch`: the reference modules that come before `module`, and the student's export of `module` (into
    each package module it exports to).

    Raises ExportError (naming notebook, cell and line) when the student's code does not parse.
    """
    from nbdev.export import nb_export

    from tinytorch_course.export import CheckSyntax, FreshModules

    course = _course()
    package = dest / "tinytorch"
    (package / "core").mkdir(parents=True)
    for path in (package / "__init__.py", package / "core" / "__init__.py"):
        path.touch()
    for earlier in course.modules[: course.modules.index(module)]:
        for file in course.package_files(earlier):
            shutil.copy(REFERENCE / file, package / file)
    submitted = dest / f"{module}.ipynb"
    submitted.write_text(json.dumps(nb), encoding="utf-8")
    nb_export(str(submitted), lib_path=str(package), procs=[CheckSyntax, FreshModules.into(package)])
    return package


def _outputs(verdict: judging.Verdict, title: str, notes: list[str]) -> list[NotebookNode]:
    text = "".join(f"{line}\n" for line in [*notes, verdict.feedback])
    outputs = [NotebookNode(output_type="stream", name="stdout", text=text)]
    if not verdict.passed:  # nbgrader gives 0 points to a graded cell with an error output
        outputs.append(
            NotebookNode(output_type="error", ename="CheckFailed", evalue=title, traceback=[f"CheckFailed: {title}"])
        )
    return outputs


def notebook_problem(path: Path) -> str | None:
    """Why the file at `path` is not a notebook that can be graded, in a few words; None when it is one."""
    try:
        nb = json.loads(Path(path).read_bytes())
    except UnicodeDecodeError:
        return "not a readable notebook (not UTF-8 text)"
    except json.JSONDecodeError as error:
        return f"not a readable notebook (JSON error at line {error.lineno})"
    if not isinstance(nb, dict) or "nbformat" not in nb:
        return "not a notebook (JSON without an nbformat version)"
    if nb["nbformat"] != 4:
        return f"nbformat {nb['nbformat']}, expected 4"
    if not isinstance(nb.get("cells"), list) or not isinstance(nb.get("metadata"), dict):
        return "not a notebook (no list of cells, or no metadata)"
    bad = next((index for index, cell in enumerate(nb["cells"]) if not _is_cell(cell)), None)
    return None if bad is None else f"not a notebook (cell {bad} is not a notebook cell)"


def _is_cell(cell: object) -> bool:
    """Enough of a cell for nbformat to read and nbgrader's preprocessors to handle (nbformat checks the rest)."""
    if not isinstance(cell, dict):
        return False
    source = cell.get("source")
    text = isinstance(source, str) or isinstance(source, list) and all(isinstance(line, str) for line in source)
    return text and cell.get("cell_type") in ("code", "markdown", "raw") and isinstance(cell.get("metadata"), dict)


class NotebookFileError(ValueError):
    """A submitted file that is not a notebook."""


class SubmissionExporter(NotebookExporter):
    """nbgrader's notebook exporter, refusing a file that is not a notebook with the reason, in one line of the log.

    nbformat fails on such a file with a traceback that does not say what is wrong (a JSON list: "AttributeError:
    'list' object has no attribute 'get'"). nbgrader then reports the student as failed and grades the others.
    """

    def from_filename(self, filename: str, resources: dict | None = None, **kw) -> tuple[NotebookNode, dict]:
        problem = notebook_problem(Path(filename))
        if problem:
            self.log.error("%s: %s", filename, problem)
            raise NotebookFileError(f"{Path(filename).name}: {problem}")
        return super().from_filename(filename, resources, **kw)


def _grade_id(cell: dict) -> str | None:
    """The grade_id of a cell's nbgrader metadata, or None (no metadata, or metadata that is not nbgrader's)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def released_cells(db_url: str, assignment: str, notebook: str) -> list[NotebookNode]:
    """The notebook a student received: the release's cells, with each graded, solution, task and read-only cell as
    the gradebook records it.

    The gradebook is what nbgrader itself restores cells from (OverwriteCells, add_missing_cells) and stores scores
    against (SaveAutoGrades): a cell restored from it is exactly what OverwriteCells expects, and there is one for
    every grade SaveAutoGrades looks for. It keeps no order, though (its rows keep the place of their first insertion
    when cells are moved in the source), and not the cells without nbgrader metadata: those, the order, the cell ids
    and the other metadata (tags) come from the release that generate_assignment wrote from the same source. A cell
    the release does not have goes last.
    """
    recorded = _recorded_cells(db_url, assignment, notebook)
    cells = []
    for release_cell in _released_cells(assignment, notebook):
        name = _grade_id(release_cell)
        if name in recorded:
            cell = recorded.pop(name)
            cell["metadata"] = release_cell.get("metadata", {}) | cell["metadata"]
            cells.append(cell | ({"id": release_cell["id"]} if "id" in release_cell else {}))
        elif name is None:  # prose
            cells.append(release_cell)
    return [from_dict(cell) for cell in [*cells, *recorded.values()]]


def _recorded_cells(db_url: str, assignment: str, notebook: str) -> dict[str, dict]:
    """grade_id -> the gradebook's source cell of that name, as a notebook cell with the nbgrader metadata implied."""
    with Gradebook(db_url) as gradebook:
        source = gradebook.find_notebook(notebook, assignment)
        points = {cell.name: cell.max_score for cell in [*source.grade_cells, *source.task_cells]}
        kinds = {kind: {c.name for c in getattr(source, f"{kind}_cells")} for kind in ("grade", "solution", "task")}
        cells = {}
        for recorded in source.source_cells:
            name, cell_type = recorded.name, recorded.cell_type
            meta = {kind: name in names for kind, names in kinds.items()} | {"schema_version": 3, "grade_id": name}
            meta |= {"locked": recorded.locked, "cell_type": cell_type, "checksum": recorded.checksum}
            meta |= {"points": points[name]} if name in points else {}
            cell = {"cell_type": cell_type, "source": recorded.source, "metadata": {"nbgrader": meta}}
            cells[name] = cell | ({"outputs": [], "execution_count": None} if cell_type == "code" else {})
    return cells


def _released_cells(assignment: str, notebook: str) -> list[dict]:
    return notebooks.read(_course().released(assignment).with_name(f"{notebook}.ipynb"))["cells"]


def _longest_increasing(values: list[int]) -> set[int]:
    """The indices into `values` of one longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []  # tails[k]: the smallest last value of an increasing run of length k + 1 ...
    ends: list[int] = []  # ... and its index
    previous = [-1] * len(values)
    for index, value in enumerate(values):
        k = bisect.bisect_left(tails, value)
        previous[index] = ends[k - 1] if k else -1
        tails[k : k + 1], ends[k : k + 1] = [value], [index]
    chain, index = set(), ends[-1] if ends else -1
    while index >= 0:
        chain.add(index)
        index = previous[index]
    return chain


def _places(cells: list[NotebookNode], released: list[NotebookNode]) -> list[int | None]:
    """For each submitted cell, the index of the released cell it is: by grade_id, else by cell id, else None."""
    by_grade_id = {name: index for index, cell in enumerate(released) if (name := _grade_id(cell))}
    by_cell_id = {cell["id"]: index for index, cell in enumerate(released) if "id" in cell}
    return [by_grade_id.get(_grade_id(cell), by_cell_id.get(cell.get("id"))) for cell in cells]


def rebuild_cells(cells: list[NotebookNode], released: list[NotebookNode], log: logging.Logger) -> list[NotebookNode]:
    """The submission's cells rebuilt on the released notebook's (see RestoreCells)."""
    present, before, trailing = _sort_submitted(cells, released, log)
    rebuilt = []
    for place, source in enumerate(released):
        rebuilt += before.get(place, [])
        name = _grade_id(source)
        if name is None:  # prose: the student's, or nothing if they deleted it
            rebuilt += [present[place]] if place in present else []
            continue
        if place not in present:
            log.warning("cell %s is missing; restored from the gradebook", name)
            source.metadata[RESTORED] = {"missing": True}
        elif source.metadata.nbgrader.solution:
            source.source = notebooks.source(present[place])  # the student's code
        rebuilt.append(source)
    return rebuilt + trailing


def _sort_submitted(
    cells: list[NotebookNode], released: list[NotebookNode], log: logging.Logger
) -> tuple[dict, dict, list]:
    """Where the submitted cells go: (place -> the submitted cell that fills it, place -> the ordinary cells that
    come just before it, the ordinary cells that come last), leaving out copies of graded and read-only cells.

    The cells found in the same order as released stay in place (one longest increasing run of places); the others
    go back to their places, or, if they have none, just before the next cell that stays in its place.
    """
    places = _places(cells, released)
    kept = {place: position for position, place in enumerate(places) if place is not None}  # the last of copies
    anchors = sorted(kept.values())
    in_place = {anchors[i] for i in _longest_increasing([places[position] for position in anchors])}
    present: dict[int, NotebookNode] = {}  # place -> the submitted cell that fills it
    before: dict[int, list[NotebookNode]] = {}  # place -> the other cells that come just before it
    pending: list[NotebookNode] = []
    for position, (cell, place) in enumerate(zip(cells, places, strict=True)):
        name = None if place is None else _grade_id(released[place])
        if name is None and cell.metadata.pop("nbgrader", None) is not None:  # prose, the student's own, pasted
            log.warning("cell %d: not a cell of this notebook; graded as an ordinary cell", position)
        if position in in_place:
            present[place], before[place], pending = cell, pending, []
        elif name and kept[place] == position:
            log.warning("cell %s was moved; put back in its place", name)
            present[place] = cell
        elif name and not released[place].metadata.nbgrader.solution:
            log.warning("cell %d: another copy of %s; left out", position, name)
        else:  # the student's own cell, moved prose, a copy of a solution cell
            if name and cell.metadata.pop("nbgrader", None) is not None:
                log.warning("cell %d: another copy of %s; graded as an ordinary cell", position, name)
            pending.append(cell)
    return present, before, pending


class RestoreCells(NbGraderPreprocessor):
    """Rebuild the submission's cell list on the notebook the student received, so that damage to it costs nothing.

    Every graded, read-only and solution cell is there once, in its place, with the content and metadata of the
    release and gradebook (`released_cells`); a solution cell keeps the student's code. Submitted cells are
    recognized by their grade_id, or by their cell id when the grade_id was edited; of copies, the last counts
    (nbgrader's rule). A solution cell the student deleted comes back as released, marked RESTORED, and scores what a
    blank one does. Every other cell (the student's own, copies of solution cells, cells pasted from other notebooks)
    stays, as an ordinary cell, just before the next cell that is still in its place (prose included), so nothing
    the student wrote is reordered or moved far.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        released = released_cells(info["db_url"], info["assignment"], info["notebook"])
        self._warn_of_edits(nb.cells, _released_cells(info["assignment"], info["notebook"]), info)
        nb.cells = rebuild_cells(nb.cells, released, self.log)
        _settle_cell_ids(nb)
        return nb, resources

    def _warn_of_edits(self, submitted: list, released: list, info: dict) -> None:
        """One warning per read-only cell whose source the student changed from the release they received (hidden
        tests were never in it): it is restored, but an instructor may want to know. Untouched cells say nothing."""
        given = {
            _grade_id(cell): notebooks.source(cell).strip()
            for cell in released
            if notebooks.nbgrader(cell).get("locked") and not notebooks.nbgrader(cell).get("solution")
        }
        for cell in submitted:
            name = _grade_id(cell)
            if name in given and notebooks.source(cell).strip() != given[name]:
                self.log.warning(
                    "%s edited the read-only cell %s of %s; it is graded as released",
                    info["student"],
                    name,
                    info["notebook"],
                )


def _settle_cell_ids(nb: NotebookNode) -> None:
    """Cell ids unique where the notebook's format (4.5 on) has them, absent where it has not."""
    seen: set[str] = set()
    for cell in nb.cells:
        if nb.get("nbformat_minor", 0) < 5:
            cell.pop("id", None)
        elif cell.setdefault("id", random_cell_id()) in seen:
            cell.id = random_cell_id()
        seen.add(cell.get("id"))


def _component(grade_id: str, module: str) -> str:
    """The component a cell belongs to: its grade_id starts with it (settings.ini [components])."""
    return next((c for c in _course().components[module] if grade_id.startswith(f"{c}-")), grade_id)


def _missing_solutions(nb: NotebookNode, module: str) -> dict[str, str]:
    """component -> a feedback line for its checks, for each solution cell RestoreCells had to put back."""
    notes = {}
    for cell in nb.cells:
        meta = notebooks.nbgrader(cell)
        if meta.get("solution") and cell.metadata.get(RESTORED, {}).get("missing"):
            name = meta["grade_id"]
            note = f"The solution cell {name} is missing from your notebook: it was graded as if left blank."
            notes[_component(name, module)] = note
    return notes


class TrustedChecks(NbGraderPreprocessor):
    """Score every graded cell with the trusted check of its grade_id, run on the student's exported code."""

    # Defaults are the sandbox's; nbgrader_config.py sets them from settings.ini [grading].
    timeout = Float(sandbox.Limits.timeout, help="Wall-clock seconds per submission").tag(config=True)
    probe_timeout = Float(sandbox.Limits.probe_timeout, help="Seconds for import and each probe").tag(config=True)
    memory = Integer(sandbox.Limits.memory, help="Address space per sandboxed process, bytes").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        module = resources["nbgrader"]["assignment"]
        module_checks = {check.name: check for check in packs.load(module).checks}
        verdicts = self._verdicts(nb, module, list(module_checks.values()))
        missing = _missing_solutions(nb, module)
        for cell in nb.cells:
            meta = notebooks.nbgrader(cell)
            name = meta.get("grade_id")
            if meta.get("grade") and name in verdicts:
                # on the checks of its own component only: the others are graded with the reference's code for it
                notes = [note for of, note in missing.items() if of == _component(name, module)]
                cell.outputs = _outputs(verdicts[name], module_checks[name].title, notes)
                cell.execution_count = None
        return nb, resources

    def _verdicts(
        self, nb: NotebookNode, module: str, module_checks: list[judging.Check]
    ) -> dict[str, judging.Verdict]:
        limits = sandbox.Limits(timeout=self.timeout, probe_timeout=self.probe_timeout, memory=self.memory)
        by_component: dict[str, list[judging.Check]] = {}
        for check in module_checks:
            by_component.setdefault(_component(check.name, module), []).append(check)
        with tempfile.TemporaryDirectory(prefix="tinytorch-grade-") as scratch:
            verdicts = grade_components(nb, module, by_component, Path(scratch), limits)
        for name, verdict in verdicts.items():
            self.log.info("%s %s: %s", module, name, "passed" if verdict.passed else "failed")
        return {check.name: verdicts[check.name] for check in module_checks}


def grade_components(
    nb: NotebookNode, module: str, by_component: dict[str, list[judging.Check]], scratch: Path, limits: sandbox.Limits
) -> dict[str, judging.Verdict]:
    """The verdicts of each component's checks on its isolated package (`isolated_notebook`, exported into
    scratch/<component>), each run in a sandbox of its own, all at the same time. A component whose cell does not
    parse gets that message on its checks, and no run."""
    from tinytorch_course.export import ExportError

    fixtures, probe_file = _fixtures(module), packs.load(module).probe_file
    verdicts, packages, jobs = {}, {}, []
    for component, checks in by_component.items():
        try:
            packages[component] = scratch_package(isolated_notebook(nb, module, component), module, scratch / component)
        except ExportError as error:
            problem = f"your code does not parse: {error}"
            verdicts |= {check.name: judging.grade(check, None, fixtures[check.probe], problem) for check in checks}
            continue
        probes = sorted({check.probe for check in checks})
        jobs.append(
            sandbox.Job(packages[component].parent, probe_file, probes, {n: fixtures[n].inputs for n in probes})
        )
    runs = sandbox.run_many(jobs, limits, runtime=_runtime()) if jobs else []
    for (component, package), results in zip(packages.items(), runs, strict=True):
        located = {name: _with_place(result, package, module) for name, result in results.items()}
        verdicts |= judge(by_component[component], located, fixtures)
    return verdicts


def _with_place(result: sandbox.ProbeResult, package: Path, module: str) -> sandbox.ProbeResult:
    """A failed import or a timeout, with the notebook cell and line of the student's code it failed or hung in
    added to its error, when the innermost frame of the module's own file is known (earlier modules are the
    reference's). Nothing else in the student's code says where those happened; other errors are left as they are."""
    own = {str(Path(package.name) / file) for file in _course().package_files(module)}
    frame = next((frame for frame in reversed(result.where) if frame[0] in own), None)
    if frame is None or result.error is None or result.status not in ("import-failed", "timeout"):
        return result
    try:
        place = export._locate(package.parent / frame[0], frame[1])
    except (OSError, ValueError, KeyError):  # a frame forged by the student's code: no place to name
        return result
    function = frame[2]
    if result.status == "timeout" and result.error.startswith("did not finish") and function != "<module>":
        error = f"{function} {result.error} ({place})"
    else:
        error = f"{result.error} ({place if function == '<module>' else f'in {function}, {place}'})"
    return dataclasses.replace(result, error=error)


def judge(
    module_checks: list[judging.Check], results: dict[str, sandbox.ProbeResult], fixtures: dict
) -> dict[str, judging.Verdict]:
    """The verdict of every check on its probe's result from the sandbox."""
    verdicts = {}
    for check in module_checks:
        result = results[check.probe]
        error = result.error if result.status in ("ok", "error") else f"{result.status}: {result.error}"
        verdicts[check.name] = judging.grade(check, result.outputs, fixtures[check.probe], error)
    return verdicts
