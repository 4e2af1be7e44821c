"""nbdev export processor: the package gets the reference code, never nbgrader's markers."""

import re

# nbgrader's delimiters, matched as whole lines the way nbgrader itself finds them.
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def strip_solution_markers(cell):
    """Remove `### BEGIN SOLUTION` / `### END SOLUTION` lines from an exported code cell."""
    if cell.cell_type == "code" and "### " in cell.source:
        cell.source = _MARKER.sub("", cell.source)
