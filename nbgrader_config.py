"""nbgrader's configuration for this course, read by every `nbgrader ...` command run from the repository root.

Folders: instructor sources in nbs/<module>/, the student release in modules/<module>/ (committed),
runtime state (submitted/, autograded/, feedback/, gradebook.db) beside them and git-ignored.
Course values come from settings.ini so an instructor edits them in one place.
"""

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # the course tooling, even when nbgrader runs from a bare interpreter

from tinytorch_course import settings  # noqa: E402

# nbgrader shells out to `alembic` when it creates a gradebook; find it beside this interpreter even
# when nbgrader was started as .venv/bin/nbgrader without activating the venv.
os.environ["PATH"] = settings.tool_env()["PATH"]

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.converters import GenerateAssignment  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from sqlalchemy.exc import SAWarning  # noqa: E402

from autograde import completion, feedback  # noqa: E402
from autograde.preprocessors import RestoreCells, SubmissionExporter, TrustedChecks  # noqa: E402
from tinytorch_course.release import StudentKernelspec  # noqa: E402

course = settings.load()

# nbgrader 0.9.6 (nbgrader/api.py, Gradebook.find_submission_notebook and update_or_create_submission) reads a
# relationship while a new SubmittedAssignment/SubmittedNotebook is not yet in its session; SQLAlchemy's autoflush
# then warns that it will not add it there, and nbgrader adds it itself right after. Every new submission printed
# these three warnings; only they are silenced, and only when nbgrader's api module issues them.
warnings.filterwarnings(
    "ignore",
    message=r"Object of type <Submitted(Assignment|Notebook)> not in session, add operation along",
    category=SAWarning,
    module=r"nbgrader\.api",
)
c = get_config()  # noqa: F821 -- injected by traitlets when it loads this file

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = course.course_id
c.CourseDirectory.source_directory = "nbs"
c.CourseDirectory.release_directory = "modules"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'gradebook.db'}"
c.Exchange.root = course.exchange_root

# What students see where the reference solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Released notebooks carry the kernelspec JupyterLab writes, so they open unmodified (tinytorch_course/release.py).
c.GenerateAssignment.preprocessors = [*GenerateAssignment.class_traits()["preprocessors"].default(), StudentKernelspec]

# Grading. A submitted file that is not a notebook fails alone, with its reason in the log (SubmissionExporter).
# Sanitizing rebuilds the cell list on the released notebook's (RestoreCells: every graded, read-only and solution
# cell once and in its place, deleted ones too; cells pasted from other notebooks become ordinary cells) before any
# of nbgrader's preprocessors read the cells' metadata; nbgrader's own restoring of missing cells is off (it fails
# when a missing graded cell follows a read-only one). It then drops the hidden tests, so they never reach a
# student's feedback.
# Autograding does not run the notebook at all: TrustedChecks scores each graded cell with the trusted check of its
# name, on the student's exported code in a sandbox (autograde/), and nbgrader's SaveAutoGrades stores the scores.
c.Autograde.exporter_class = SubmissionExporter
c.OverwriteCells.add_missing_cells = False
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    RestoreCells,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    ClearHiddenTests,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [TrustedChecks, SaveAutoGrades, AssignLatePenalties]
c.TrustedChecks.timeout = course.grading_timeout
c.TrustedChecks.probe_timeout = course.probe_timeout
c.TrustedChecks.memory = course.memory_mb << 20
# Each submission's grading records its own end (autograde/completion.py): `python -m autograde grade` resumes by it.
c.Autograde.pre_convert_hook = completion.forget
c.Autograde.post_convert_hook = completion.record

# Feedback a student can act on, offline (autograde/feedback.py): the score summary names each graded cell by its
# check's title, verdicts wrap, and the math is MathML instead of MathJax from a CDN. The template is nbgrader's
# feedback page with those changes; nbgrader's own template folder stays on the path for its bootstrap.min.css.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, feedback.FeedbackCells]
c.HTMLExporter.template_name = "tinytorch_feedback"
c.HTMLExporter.extra_template_basedirs = [str(feedback.TEMPLATES)]
