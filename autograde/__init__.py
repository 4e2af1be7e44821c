"""tinytorch's hidden autograder (instructor-only, never shipped to students).

`packs/` holds one check pack per course module: its trusted checks (one per graded notebook cell, plus hidden
ones), their rules and fixture specs; `probes/` the code that calls the student's package inside the sandbox and
returns only arrays; `judging` the engine that turns a probe's arrays into a verdict; `fixtures/` the inputs and
reference outputs that `make_fixtures` generates from the reference package (read and written by `fixture_io`);
`compare` the diff reports shown to students.
"""
