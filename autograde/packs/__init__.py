"""Check packs: one per course module, all that the grader knows about that module's checks.

The course module `NN_x` of settings.ini exports to the package module `[exports] NN_x = core.<name>`; its pack is
`autograde/packs/<name>.py` and its probes `autograde/probes/<name>.py`. A pack defines `CHECKS`, a tuple of
`judging.Check`, one per graded cell of the module's notebook (same grade_id, same points), each with its probe
(a function of the probe module, named by its function name: the grader never imports probes, which import
tinytorch), its rules and its fixture `Spec`; the rules specific to the module live in the pack too.

Packs import numpy, the stdlib and the grader's own modules (the probe protocol, autograde/probes/protocol.py, among
them), never tinytorch or a probe module at import time (a pack's fixture-input function may import its probe
module's constants inside the function: only `make_fixtures` calls it, on the reference package). Their rules read a
probe's outputs by kind and name (`result.raw["weight"]`, `result.error["bad_0"]`).
"""

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path

from autograde.judging import Check
from tinytorch_course import settings

PROBES = Path(__file__).resolve().parent.parent / "probes"


@dataclass(frozen=True)
class Pack:
    module: str  # the course module, e.g. '03_layers'
    name: str  # its pack and probe module, e.g. 'layers'
    checks: tuple[Check, ...]

    @property
    def probe_file(self) -> Path:
        return PROBES / f"{self.name}.py"


def pack_name(module: str) -> str:
    """The pack (and probe module) of a course module: its package module's last part, 'core.layers' -> 'layers'."""
    return settings.load().exports[module].rsplit(".", 1)[-1]


@functools.cache
def load(module: str) -> Pack:
    """The pack of a course module of settings.ini."""
    name = pack_name(module)
    return Pack(module, name, importlib.import_module(f"{__name__}.{name}").CHECKS)


def load_all() -> dict[str, Pack]:
    """Every module's pack, in the order of settings.ini."""
    return {module: load(module) for module in settings.load().modules}
