"""tinytorch's hidden autograder (instructor-only, never shipped to students).

`checks` holds the trusted checks (one per graded notebook cell, plus hidden ones) and their judges; `probes/` the
code that calls the student's package inside the sandbox and returns only arrays; `fixtures/` the inputs and
reference outputs that `make_fixtures` generates from the reference package; `compare` the diff reports shown to
students.
"""
