"""The judging engine: a check's verdict from the arrays its probe returned and the check's fixture.

A check (`Check`, declared in its module's pack, autograde/packs/<name>.py) names a probe (a function of
autograde/probes/<name>.py, run on the student's package in the sandbox) and the rules that judge the probe's outputs
here, in the grader. The outputs arrive as a dict of plain arrays; `grade` reads them with the probe protocol
(autograde/probes/protocol.py) into a `Result`, by kind and name, and reports outputs that break it. A rule is a
function `(result, fixture) -> list of problems`: `expected_outputs` compares every stored reference output, by
kind; a pack's own rules check what has no single right answer (random weights, dropout masks) by recomputing from
the returned weights or with statistical bounds (`bernstein`) whose chance of failing a correct implementation is
below 1e-9 per check, whatever random numbers it draws. `grade` turns the problems into the student-facing verdict.

Imports numpy and the stdlib only (autograde/probes/protocol.py is numpy and stdlib too); never tinytorch.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .compare import diff, shape_note
from .fixture_io import Arrays, Fixture, Spec
from .probes.protocol import ERROR, FLAG, MESSAGE, SHAPE, TEXTS, VALUE, MalformedResult, Result, key, validate

FAIL_PROB = 1e-10  # per statistical comparison; no check makes more than 10, so a correct layer fails < 1e-9
MAX_PROBLEMS = 4  # problems listed in one feedback


@dataclass(frozen=True)
class Verdict:
    passed: bool
    score: float  # 0 or the check's points
    feedback: str  # student-facing


# A rule returns the problems it finds in a probe's outputs; a check passes when its rules find none.
Rule = Callable[[Result, Fixture], list[str]]


@dataclass(frozen=True)
class Check:
    """Everything about one check: the graded cell it scores, what the student reads, how it is judged, and how
    its fixture is made."""

    name: str  # == grade_id of the notebook cell it scores
    points: float  # == that cell's points
    title: str  # what is checked, in the feedback (and in the placeholder cell of a hidden check)
    hint: str  # shown when the check fails
    probe: str  # a function of the pack's probe module, autograde/probes/<name>.py
    fixture: Spec  # the probe's inputs and tolerances
    rules: tuple[Rule, ...] = field(default_factory=lambda: (expected_outputs,))  # default: match the reference


def shorten(s: str, n: int = 160) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def feedback(check_title: str, hint: str, problems: list[str]) -> str:
    """What the student reads: the title, the first few problems and, when there are any, the hint."""
    if not problems:
        return f"{check_title}: passed."
    lines = [f"- {shorten(p, 400)}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"- ... and {len(problems) - MAX_PROBLEMS} more")
    return "\n".join([f"{check_title}: failed.", *lines, f"Hint: {hint}"])


def _problems(check: Check, outputs: Arrays, fixture: Fixture) -> list[str]:
    """What the check's rules find in the outputs, once they are read by the probe protocol."""
    try:
        result = validate(outputs)
    except MalformedResult as e:  # outputs that break the probe protocol: say which
        return [f"the results of your code could not be checked: {p}" for p in e.problems]
    try:
        return [p for rule in check.rules for p in rule(result, fixture)]
    except Exception as e:  # outputs missing or unusable: report without a grader traceback
        return [f"the results of your code could not be checked ({type(e).__name__})"]


def grade(check: Check, outputs: Arrays | None, fixture: Fixture, error: str | None = None) -> Verdict:
    """The verdict on one check from its probe's outputs (a dict of arrays, as the sandbox returns them), or from
    the error that stopped the probe."""
    if outputs is None:
        problems = [f"your code stopped with an error: {shorten(error or 'no result', 300)}"]
    else:
        problems = _problems(check, outputs, fixture)
    score = 0.0 if problems else float(check.points)
    return Verdict(not problems, score, feedback(check.title, check.hint, problems))


# --------------------------------------------------------------------------- generic rules and their parts


def label(fx: Fixture, kind: str, name: str) -> str:
    """What the student reads for an output: its own label or, for an error or message about a value, the value's."""
    return fx.labels.get(key(kind, name)) or fx.labels.get(name) or key(kind, name)


def _mismatch(kind: str, got, exp, what: str, fx: Fixture) -> str | None:
    """The problem with output `got` of `kind` where the reference has `exp` (both as `Result` decodes them)."""
    if kind == FLAG:
        return None if got else what
    if kind == ERROR and got != exp:
        if not got:
            return f"{what}: should raise {exp}, but no exception was raised"
        return f"{what}: raised {shorten(got)}" + (f" instead of {exp}" if exp else "")
    if kind in TEXTS and got != exp:
        return f"{what}: got {shorten(got)!r}, expected {exp!r}"
    if kind == SHAPE and got != exp:
        return f"{what}: {got}, expected {exp}{shape_note(got, exp)}"
    if kind == VALUE:
        return diff(got, exp, rtol=fx.rtol, atol=fx.atol, name=what)
    return None


def expected_outputs(out: Result, fx: Fixture) -> list[str]:
    """Every stored reference output matches, judged by its kind: flags must be true, errors, messages, texts and
    shapes equal, values equal in shape and dtype and in value within the fixture's tolerance."""
    problems, expected = [], validate(fx.expected)
    raised = any(out.error.values())
    for kind, name in expected.order:
        if kind == MESSAGE and out.error.get(name, "") != expected.error.get(name, ""):
            continue  # the exception itself is reported by the error of that name
        if name not in getattr(out, kind):
            if not raised:  # results are missing after a call raised: its error explains why
                problems.append(f"{label(fx, kind, name)}: no result")
        elif problem := _mismatch(kind, out.get(kind, name), expected.get(kind, name), label(fx, kind, name), fx):
            problems.append(problem)
    return problems


def bernstein(variance_sum: float, max_abs: float, fail: float = FAIL_PROB) -> float:
    """t with P(|S| >= t) <= fail for a sum S of independent zero-mean terms bounded by max_abs with total variance
    variance_sum (Bernstein's inequality, solved for t; rigorous, no normal approximation)."""
    log_term = math.log(2 / fail)
    a = log_term * max_abs / 3
    return a + math.sqrt(a * a + 2 * log_term * variance_sum)


def close(got: np.ndarray, ref: np.ndarray, fx: Fixture, name: str) -> list[str]:
    """got (must be float32) agrees with the float64 reference within the fixture's tolerance."""
    problem = diff(got, ref, rtol=fx.rtol, atol=fx.atol, name=name, dtype=np.float32)
    return [problem] if problem else []


def shape_is(a: np.ndarray, shape: tuple, name: str) -> list[str]:
    return [] if a.shape == shape else [f"{name}: shape {a.shape}, expected {shape}{shape_note(a.shape, shape)}"]


def f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)
