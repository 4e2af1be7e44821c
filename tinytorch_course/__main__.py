"""`python -m tinytorch_course demo`: run every module notebook of the course and summarise."""

import argparse
import json
import sys

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
    return 0 if all_ok else 1


def _package_summary() -> str:
    """Use the exported package the way a student would after module 03."""
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
        f"a batch of 32 gives output {out.shape} {out.dtype}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinytorch_course", description=__doc__)
    parser.add_argument("command", choices=["demo"])
    parser.parse_args(argv)
    return demo()


if __name__ == "__main__":
    sys.exit(main())
