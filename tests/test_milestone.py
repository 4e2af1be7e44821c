"""The digits milestone script (the student kit's `train_digits.py`): what `make demo` runs on the reference package,
the one copy both READMEs show. Its run in a student's kit is in test_student_kit.py."""

import re
import subprocess
import sys

from conftest import milestone_numbers

from tinytorch_course import settings
from tinytorch_course.__main__ import digits_milestone
from tinytorch_course.kit import MILESTONE_SCRIPT, TEMPLATE

FENCED_PYTHON = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def test_make_demo_trains_the_reference_package_to_97_percent_on_digits(capsys):
    reached, said = digits_milestone()
    epochs, seconds, accuracy = milestone_numbers(said)
    with capsys.disabled():  # the time is recorded, never asserted: it depends on the machine and its load
        print(f"\nreference package: {said}")
    assert reached and epochs == 60 and accuracy >= 97.0, said


def test_check_fails_a_run_below_97_percent():
    # One epoch reaches about 89%: --check must turn that into exit status 1 and say why.
    run = subprocess.run(
        [sys.executable, str(MILESTONE_SCRIPT), "--epochs", "1", "--check"], capture_output=True, text=True
    )
    epochs, _, accuracy = milestone_numbers(run.stdout)
    assert epochs == 1 and accuracy < 97.0, run.stdout
    assert run.returncode == 1 and run.stderr.strip() == "below the milestone's 97% test accuracy", run.stderr


def test_both_readmes_show_the_script_as_it_is():
    script = MILESTONE_SCRIPT.read_text(encoding="utf-8")
    kit_readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    last_section = kit_readme.rsplit("\n## ", 1)[1]
    assert last_section.startswith("8. Train your own package on digits\n"), last_section[:80]
    assert FENCED_PYTHON.findall(last_section) == [script], "the kit README's last section must show train_digits.py"
    assert "train_digits.py" in last_section.split("```python")[0], "the kit README must say how to run it"

    project_readme = (settings.ROOT / "README.md").read_text(encoding="utf-8")
    section = project_readme.split("\n## Train on handwritten digits\n", 1)[1].split("\n## ", 1)[0]
    assert FENCED_PYTHON.findall(section) == [script], "the project README's digits section must show train_digits.py"
