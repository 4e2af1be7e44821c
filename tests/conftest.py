"""Shared fixtures: the student's side of the course, built for real.

`student_kit` builds the kit a student receives and installs it into a fresh virtual environment (no
reference package in it), once per test session. `solve` turns a released notebook into a completed one
by writing the instructor's reference solution into each solution cell, the way a student who finished
the module would have.
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from autograde.samples import reference_solutions, solve  # noqa: F401 -- shared with the tests
from tinytorch_course import kit as kit_builder
from tinytorch_course import settings

ROOT = settings.ROOT

# Property tests: enough examples to find shape and rounding bugs; no per-example deadline on a noisy machine.
FAST = hypothesis.settings(max_examples=50, deadline=None)
U32 = 2.0**-24  # unit roundoff of float32: one correctly rounded float32 operation has relative error <= U32
# Tiny absolute slack for results that underflow float32 (a product of two ~1e-30 numbers); far below 1e-6.
UNDERFLOW_ATOL = 1e-30
# Bounded, finite float32 values (no subnormals, so relative error stays meaningful).
finite32 = st.floats(-1e3, 1e3, width=32, allow_subnormal=False)


def assert_sum_close(actual, expected64, abs_sum64, n_terms):
    """Check a float32 result of summing `n_terms` terms (a dot product, x @ W + b) against the float64 reference.

    Whatever the summation order (BLAS blocks, pairwise summation, FMA), the float32 error is at most
    gamma_n * sum|terms| with gamma_n = n*u/(1 - n*u) (Higham, Accuracy and Stability, eq. 3.5); one extra
    term covers the final rounding or a bias addition. This is the tightest honest tolerance: a fixed rtol
    cannot cover cancellation, a fixed atol would be either too loose for small results or too tight for large
    ones.
    """
    n = n_terms + 1
    bound = n * U32 / (1 - n * U32) * np.asarray(abs_sum64, dtype=np.float64) + UNDERFLOW_ATOL
    error = np.abs(np.asarray(actual, dtype=np.float64) - expected64)
    assert np.all(error <= bound), f"max error {np.max(error)} exceeds float32 bound {np.max(bound)}"


# The line of the digits milestone script, train_digits.py: "60 epochs in 2.0 s: test accuracy 98.1% on 360 ..."
MILESTONE_RESULT = re.compile(r"(\d+) epochs in (\d+\.\d) s: test accuracy (\d+\.\d)% on 360 held-out digits")


def milestone_numbers(line: str) -> tuple[int, float, float]:
    """(epochs, seconds, test accuracy in %) from the output of the digits milestone script."""
    found = MILESTONE_RESULT.search(line)
    assert found, f"no milestone result in: {line!r}"
    return int(found[1]), float(found[2]), float(found[3])


@contextlib.contextmanager
def strict_float_errors():
    """NumPy overflow, divide-by-zero and invalid (NaN) results, and every warning, become exceptions.

    Underflow stays allowed on purpose: exp(-1000) underflowing to exactly 0 is the correct float32 answer.
    """
    with np.errstate(over="raise", divide="raise", invalid="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@dataclass(frozen=True)
class StudentKit:
    root: Path  # the kit folder, as the student unpacked it
    bin: Path  # its virtual environment's bin/

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a shell where the student activated the kit's venv."""
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "IN_TEST")}
        # the instructor's venv (where the reference tinytorch is installed) is not on the student's PATH
        instructor_bin = str(Path(sys.executable).parent)
        path = [str(self.bin)] + [p for p in os.environ["PATH"].split(os.pathsep) if p != instructor_bin]
        return env | {"PATH": os.pathsep.join(path), "VIRTUAL_ENV": str(self.bin.parent)} | extra

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run the kit venv's python with `args`, in the kit folder unless told otherwise."""
        result = subprocess.run(
            [str(self.python), *args], cwd=cwd or self.root, env=self.env(), capture_output=True, text=True
        )
        assert not check or result.returncode == 0, f"python {' '.join(args)} failed:\n{result.stderr[-3000:]}"
        return result

    def notebook(self, module: str) -> Path:
        return self.root / "modules" / module / f"{module}.ipynb"


@pytest.fixture(scope="session")
def student_kit(tmp_path_factory) -> StudentKit:
    base = tmp_path_factory.mktemp("student")
    root = kit_builder.build(base / "tinytorch-student")
    venv = base / "venv"
    # sys.executable may be a venv's python: `-m venv` bases the new one on the real interpreter, so the
    # instructor's packages (and the reference tinytorch) are not visible in it.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "--no-compile", "-e", str(root)], check=True, capture_output=True, text=True)
    return StudentKit(root, venv / "bin")


@pytest.fixture
def kit(student_kit: StudentKit, tmp_path: Path):
    """The shared kit, put back exactly as released afterwards, so tests may complete and export in it."""
    snapshot = tmp_path / "kit-as-released"
    shutil.copytree(student_kit.root, snapshot, symlinks=True)
    try:
        yield student_kit
    finally:
        shutil.rmtree(student_kit.root)
        shutil.copytree(snapshot, student_kit.root, symlinks=True)
