"""The judging engine: a check's verdict from the arrays its probe returned and the check's fixture.

A check (`Check`, declared in its module's pack, autograde/packs/<name>.py) names a probe (a function of
autograde/probes/<name>.py, run on the student's package in the sandbox) and the rules that judge the probe's outputs
here, in the grader. A rule is a function `(outputs, fixture) -> list of problems`: `expected_outputs` compares
every stored reference output; a pack's own rules check what has no single right answer (random weights, dropout
masks) by recomputing from the returned weights or with statistical bounds (`bernstein`) whose chance of failing a
correct implementation is below 1e-9 per check, whatever random numbers it draws. `grade` turns the problems into
the student-facing verdict.

Imports numpy and the stdlib only; never tinytorch.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .compare import diff, shape_note
from .fixture_io import Arrays, Fixture, Spec

FAIL_PROB = 1e-10  # per statistical comparison; no check makes more than 10, so a correct layer fails < 1e-9
MAX_PROBLEMS = 4  # problems listed in one feedback


@dataclass(frozen=True)
class Verdict:
    passed: bool
    score: float  # 0 or the check's points
    feedback: str  # student-facing


# A rule returns the problems it finds in a probe's outputs; a check passes when its rules find none.
Rule = Callable[[Arrays, Fixture], list[str]]


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


def text(a: np.ndarray) -> str:
    return bytes(np.asarray(a, dtype=np.uint8).ravel()).decode("utf-8", "replace")


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


def grade(check: Check, outputs: Arrays | None, fixture: Fixture, error: str | None = None) -> Verdict:
    """The verdict on one check from its probe's outputs, or from the error that stopped the probe."""
    if outputs is None:
        problems = [f"your code stopped with an error: {shorten(error or 'no result', 300)}"]
    else:
        try:
            problems = [p for rule in check.rules for p in rule(outputs, fixture)]
        except Exception as e:  # malformed outputs: report without a grader traceback
            problems = [f"the results of your code could not be checked ({type(e).__name__})"]
    score = 0.0 if problems else float(check.points)
    return Verdict(not problems, score, feedback(check.title, check.hint, problems))


# --------------------------------------------------------------------------- generic rules and their parts


def expected_outputs(out: Arrays, fx: Fixture) -> list[str]:
    """Every stored reference output matches, read by its key's prefix: ok_ flags must be 1, err_ exception names,
    msg_/txt_ texts and shape_ shapes must be equal, other arrays must match in shape, dtype and value."""
    problems = []
    raised = any(key.startswith("err_") and text(value) for key, value in out.items())
    for key, want in fx.expected.items():
        kind, rest = key.split("_", 1)[0], key.partition("_")[2]
        label = fx.labels.get(key) or fx.labels.get(rest) or key
        if kind == "msg" and text(out.get(f"err_{rest}", [])) != text(fx.expected.get(f"err_{rest}", [])):
            continue  # the exception itself is reported under err_
        if key not in out:
            if not raised:  # results are missing after a call raised: the err_ entry explains why
                problems.append(f"{label}: no result")
        elif kind == "ok":
            if not np.all(out[key] == 1):
                problems.append(label)
        elif kind == "err":
            got, exp = text(out[key]), text(want)
            if got != exp and not got:
                problems.append(f"{label}: should raise {exp}, but no exception was raised")
            elif got != exp:
                problems.append(f"{label}: raised {shorten(got)}" + (f" instead of {exp}" if exp else ""))
        elif kind in ("msg", "txt"):
            got, exp = text(out[key]), text(want)
            if got != exp:
                problems.append(f"{label}: got {shorten(got)!r}, expected {exp!r}")
        elif kind == "shape":
            got, exp = tuple(int(n) for n in out[key]), tuple(int(n) for n in want)
            if got != exp:
                problems.append(f"{label}: {got}, expected {exp}{shape_note(got, exp)}")
        elif problem := diff(out[key], want, rtol=fx.rtol, atol=fx.atol, name=label):
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
