"""The course settings in `settings.ini`, read with the standard library."""

import configparser
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    course_id: str
    modules: tuple[str, ...]
    components: dict[str, tuple[str, ...]]
    cell_timeout: int
    exchange_root: str
    grading_timeout: float
    probe_timeout: float
    memory_mb: int

    def notebook(self, module: str) -> Path:
        """The instructor source notebook of `module`: nbs/<module>/<module>.ipynb."""
        return ROOT / "nbs" / module / f"{module}.ipynb"


def load(path: Path = ROOT / "settings.ini") -> Settings:
    parser = configparser.ConfigParser(inline_comment_prefixes=("#",))
    if not parser.read(path):
        raise FileNotFoundError(f"course settings not found: {path}")
    return Settings(
        course_id=parser.get("course", "course_id"),
        modules=tuple(parser.get("course", "modules").split()),
        components={module: tuple(names.split()) for module, names in parser.items("components")},
        cell_timeout=parser.getint("execution", "cell_timeout"),
        exchange_root=parser.get("exchange", "root"),
        grading_timeout=parser.getfloat("grading", "timeout"),
        probe_timeout=parser.getfloat("grading", "probe_timeout"),
        memory_mb=parser.getint("grading", "memory_mb"),
    )
