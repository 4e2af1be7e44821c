"""The feedback page a student can act on: configured in nbgrader_config.py for `nbgrader generate_feedback`.

`FeedbackCells` prepares the autograded notebook for the course's feedback template (autograde/templates/
tinytorch_feedback, nbgrader's own with three changes): each graded cell gets the title of the check that scored it,
which the score summary shows instead of "Test cell"; the math of the prose becomes MathML, which browsers render
themselves, so the page reads the same offline (nbgrader's template loads MathJax from a CDN); and verdicts wrap.
"""

import re
from pathlib import Path

from latex2mathml.converter import convert
from nbgrader.preprocessors import NbGraderPreprocessor

from autograde import packs

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Code spans and fenced blocks keep their dollars; outside them, $$display$$ and $inline$ math (not \$, not $$).
CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|(?<![\\$])\$(?P<inline>[^$\n]+?)\$", re.DOTALL)


def mathml(markdown: str) -> str:
    """`markdown` with its TeX math written as MathML (inline HTML, which Markdown keeps as it is)."""

    def convert_one(found: re.Match) -> str:
        if found["display"] is not None:
            return convert(found["display"].strip(), display="block")
        return convert(found["inline"].strip())

    parts = CODE.split(markdown)  # odd indices: code
    return "".join(part if index % 2 else MATH.sub(convert_one, part) for index, part in enumerate(parts))


class FeedbackCells(NbGraderPreprocessor):
    """Check titles into the graded cells' metadata (`check_title`), MathML into the prose."""

    def preprocess(self, nb, resources):
        titles = {check.name: check.title for check in packs.load(resources["nbgrader"]["assignment"]).checks}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in titles:
                cell.metadata["check_title"] = titles[grade_id]
            if cell.cell_type == "markdown":
                cell.source = mathml(cell.source)
        return nb, resources
