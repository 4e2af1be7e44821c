"""Course commands: `python -m tinytorch_course demo | release | kit`."""

import argparse
import json
import shutil
import sys
from pathlib import Path

from tinytorch_course import notebooks, settings

BUILD = settings.ROOT / "build" / "executed"


def demo() -> int:
    course = settings.load()
    BUILD.mkdir(parents=True, exist_ok=True)
    print(f"Course {course.course_id}: running {len(course.modules)} instructor notebooks in fresh kernels\n")
    print(f"{'module':<18}{'seconds':>8}{'tests':>9}{'points':>11}  result")
    all_ok = True
    for module in course.modules:
        run = notebooks.execute(course.notebook(module), course.cell_timeout)
        (BUILD / f"{module}.ipynb").write_text(json.dumps(run.notebook, indent=1), encoding="utf-8")
        passed, total, earned, possible = run.graded()
        verdict = "ok" if run.ok else "; ".join(f"{f.grade_id}: {f.error}" for f in run.failures)
        print(f"{module:<18}{run.seconds:>8.1f}{f'{passed}/{total}':>9}{f'{earned:g}/{possible:g}':>11}  {verdict}")
        all_ok &= run.ok
    print(f"\nExecuted notebooks, with outputs and plots: {BUILD.relative_to(settings.ROOT)}/")
    print(_package_summary())
    reached, said = digits_milestone()
    print(said)
    return 0 if all_ok and reached else 1


def _package_summary() -> str:
    """Use the exported package the way a student would after module 05: a forward pass, then a training step."""
    import numpy as np

    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Dropout, Linear, Sequential
    from tinytorch.core.tensor import Tensor

    np.random.seed(0)
    model = Sequential(Linear(784, 256), ReLU(), Dropout(0.5), Linear(256, 10)).eval()
    params = model.parameters()
    out = model(Tensor(np.random.rand(32, 784)))
    return (
        f"\nThe exported package at work:\n{model}\n"
        f"{sum(p.size for p in params):,} parameters in {len(params)} tensors; "
        f"a batch of 32 gives output {out.shape} {out.dtype}\n" + _training_step_summary()
    )


def _training_step_summary(learning_rate: float = 0.1) -> str:
    """One training step of the same MLP after modules 04 and 05: loss, gradient norm, and the loss after SGD."""
    import numpy as np

    from tinytorch.core.activations import ReLU
    from tinytorch.core.autograd import no_grad  # importing it installs autograd
    from tinytorch.core.layers import Dropout, Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.tensor import Tensor

    np.random.seed(0)
    model, loss_fn = Sequential(Linear(784, 256), ReLU(), Dropout(0.5), Linear(256, 10)), CrossEntropyLoss()
    x, targets = Tensor(np.random.rand(32, 784)), np.random.randint(0, 10, 32)
    np.random.seed(1)  # the dropout mask; drawn again below, so that only the update changes the loss
    loss = loss_fn(model(x), targets)
    loss.backward()
    params = model.parameters()
    norm = np.sqrt(sum(float(np.sum(p.grad.data**2)) for p in params))
    for p in params:
        p.data -= learning_rate * p.grad.data
    np.random.seed(1)
    with no_grad():
        after = loss_fn(model(x), targets)
    change = "down" if after.data < loss.data else "NOT down"
    return (
        f"One training step (CrossEntropyLoss on a batch of 32, backward, SGD with lr {learning_rate}): "
        f"loss {float(loss.data):.4f}, gradient norm {norm:.4f}; after the update the loss is "
        f"{float(after.data):.4f}, {change} by {abs(float(loss.data - after.data)):.4f}"
    )


def digits_milestone() -> tuple[bool, str]:
    """Run the student kit's milestone script, `train_digits.py --check`, on the reference package in a fresh process,
    as anyone who imports the package would: (reached 97% test accuracy, one line with its epochs, seconds, accuracy).
    """
    import subprocess

    from tinytorch_course.kit import MILESTONE_SCRIPT

    run = subprocess.run([sys.executable, str(MILESTONE_SCRIPT), "--check"], capture_output=True, text=True)
    said = run.stdout.strip().splitlines()
    if run.returncode:  # the last line of stderr says why: the --check verdict, or the error that stopped the script
        said += run.stderr.strip().splitlines()[-1:] or [f"exit status {run.returncode}"]
    said = "; ".join(said)
    return run.returncode == 0, f"The digits milestone ({MILESTONE_SCRIPT.name}, module 07): {said}"


def release() -> int:
    from tinytorch_course.release import release

    for notebook in release():
        print(f"released {notebook.relative_to(settings.ROOT)}")
    return 0


def kit() -> int:
    from tinytorch_course import kit

    dest = kit.build(settings.ROOT / "build" / "tinytorch-student")
    archive = shutil.make_archive(str(dest), "zip", dest.parent, dest.name)
    print(f"student kit: {dest.relative_to(settings.ROOT)}/ and {Path(archive).relative_to(settings.ROOT)}")
    return 0


COMMANDS = {
    "demo": (demo, "run every module notebook in a fresh kernel and summarise"),
    "release": (release, "regenerate the student notebooks in modules/ with nbgrader"),
    "kit": (kit, "build the folder (and zip) a student receives, in build/"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinytorch_course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        commands.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    return COMMANDS[args.command][0]()


if __name__ == "__main__":
    sys.exit(main())
