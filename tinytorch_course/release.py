"""The student release: nbgrader turns nbs/<module>/ into modules/<module>/.

nbgrader's own `generate_assignment` does the work (solutions replaced by stubs, hidden tests removed,
cells locked and checksummed); this runs it for every module of settings.ini in one process, which
saves nbgrader's start-up cost per module. `nbgrader generate_assignment 03_layers` from the repository
root does the same for one module.
"""

from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

from tinytorch_course import settings

# The kernelspec JupyterLab writes into a notebook when ipykernel's python3 kernel starts. nbdev-clean keeps only the
# kernel's name as display_name in nbs/; a release that says otherwise is marked modified the moment it opens.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class StudentKernelspec(NbGraderPreprocessor):
    """Gives the released notebook the kernelspec JupyterLab would write (configured in nbgrader_config.py)."""

    def preprocess(self, nb, resources):
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        return nb, resources


def release(modules: tuple[str, ...] | None = None, root: Path = settings.ROOT) -> list[Path]:
    """Regenerate the release of `modules` (default: all) under `root`; returns the notebooks written."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    course = settings.load(root / "settings.ini")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    written = []
    for module in modules or course.modules:
        result = api.generate_assignment(module, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {module} failed:\n{result['error']}\n{result['log']}")
        written.append(course.released(module))
    return written
