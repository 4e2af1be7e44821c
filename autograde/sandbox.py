"""Run probes against a student's package in a sandbox; only validated NumPy arrays come back.

Threat model. A submission is arbitrary Python that runs with the grader's privileges unless contained. It may
try to: read the reference package, the fixtures (expected outputs), the instructor notebooks, other students'
submissions or the host's secrets; reach the network; change the verdict (forge results, patch numpy so that
comparisons pass, crash or hang the grader); or exhaust the host (memory, processes, disk, CPU, output). The
grader assumes Linux (5.14 or newer, see Resources) with user namespaces open to ordinary users, Debian's
bubblewrap (`bwrap`) and python3.X (the venv's minor version). It runs as root or as any ordinary user, with
the same command and the same verdicts: nothing here needs root.

Runtime (`prepare_runtime`, once per grading process; idempotent and safe to call concurrently): the sandbox's
interpreter is Debian's /usr/bin/python3.X (the venv's own may live where the sandbox cannot reach it, e.g. under
/root); its numpy is the grader's own, the venv's `numpy` folder and the libraries its wheel bundles (`numpy.libs`),
bound read-only (same minor version, so the cp3X wheel fits); for a root grader whose venv nobody may reach, a root-
owned copy of them made once in the temp dir. One sandbox run proves that numpy imports there. When bubblewrap
cannot build a sandbox on this host, that run raises SandboxError naming the cause and the fix (the sysctl, the
AppArmor profile, the container's options): nothing is graded, and student code never runs outside a sandbox.

How each run is isolated (`run_probes`):
- Files. The student's `tinytorch/` (regular files only: symlinks and `__pycache__` are dropped, size capped),
  our probe package (the probe module's folder, imported as `probes`), `worker.py` and an inputs-only .npz are
  copied, read-only, into a fresh scratch dir with an unguessable name in a temp dir of the grader's that others
  may traverse but not list (bubblewrap, started as nobody by a root grader, must reach it). bubblewrap builds a
  new root on a tmpfs, in new user, mount, PID, network, IPC, UTS and cgroup namespaces: read-only binds of the
  OS (/usr and the /bin, /lib... links or dirs), of two files of /etc (loader cache, time zone), five device
  nodes, the runtime's numpy (at `SITE`) and the scratch dir (at `BOX`), a fresh /proc of the new PID namespace
  and a small writable /tmp (`Limits.tmp`); then the root itself is remounted read-only. It is an allow-list: the
  course root, any clone of it, the venv, the nbgrader exchange, home folders, other runs' scratch dirs, wherever
  the host keeps them, are not in this root at all. No mount is seen by the host; all vanish with the namespace.
- Identity. The worker runs as uid and gid 65534 of its user namespace, with no groups, no capabilities
  (`--cap-drop ALL`: the bounding set is empty too) and no_new_privs, in a new session (no terminal to push
  input into), and cannot create further user namespaces (`--disable-userns`). On the host it is the grader's
  uid; a root grader first becomes the real `nobody` (65534) and starts bubblewrap as that user, so student code
  never runs as real root, not even inside a namespace. Root-only files stay closed and setuid binaries gain
  nothing.
- Interpreter. Debian's /usr/bin/python3.X with `-I -S -B`; sys.path = [student dir, runtime numpy, stdlib]:
  neither the reference `tinytorch` nor the venv is on it, and they are not in its root besides.
- Network and IPC. New net namespace (only its own loopback: nothing outside the run is reachable), new IPC and
  UTS namespaces.
- Processes. New PID namespace whose init is bubblewrap's, which ignores every signal the student sends; the
  parent kills it on the run's wall-clock deadline (`Limits.deadline`) and the kernel then kills every process in
  the namespace, forked or daemonised ones included. Should the grader itself die, `--die-with-parent` ends the run;
  `sweep()` later removes its scratch dir and cgroups.
- Resources. Per process, set by the worker before any student code runs and inherited by all it starts:
  address space (`memory`), CPU seconds, processes, file size (`output`: bounds the results channel and any file
  in /tmp), open files, no core dumps. The process cap is per run: since Linux 5.14 RLIMIT_NPROC counts the
  processes of a uid within a user namespace, so it counts this run's processes (bubblewrap's init, the worker,
  its children) and neither the instructor's own processes nor other runs'; bubblewrap itself starts with the
  grader's own limits, so creating the namespace is never refused for the grader's other processes. Per run,
  where the host lets the grader create cgroups (root: v1 here; v2 only where the controllers are delegated):
  total memory, tasks and one CPU, which also bound a fork bomb whose every child allocates. The worker itself
  gives each probe (and the import) `probe_timeout` via SIGALRM, so one hanging probe does not cost the others. The
  run's deadline leaves every probe its whole budget (`Limits.deadline`): it only stops a probe the alarm could not
  interrupt (a long C call, a blocked signal), and says so with the probe's budget, the one figure a student sees.
- Output. stdout+stderr go to a pipe the parent drains, keeping only the last `TAIL_BYTES`: unbounded printing
  costs the student's time, never the grader's memory or disk.
- Results. The worker writes frames (JSON meta + .npy blobs) to an inherited descriptor of a file outside the
  box. The parent parses them with size caps and reads arrays with `allow_pickle=False`, accepting only plain
  numeric/bool dtypes whose byte size matches their header. Nothing is unpickled or imported from the sandbox.
  Student code shares the worker's process, so it may forge frames: that only yields arrays the student's code
  could have returned anyway, and all comparisons run here, in the parent, with the parent's numpy.

Not isolated: the student can read the probe module and the inputs (they are no secret; expected outputs never
enter the sandbox), world-readable files of /usr, and the sandbox's own /proc, and the kernel itself is shared (a
kernel exploit escapes any namespace sandbox). /tmp is not mounted noexec (bubblewrap has no such option; the
student runs arbitrary code in-process anyway). Without cgroups (an ordinary user without a delegated cgroup) the
run's processes together may hold `processes` x `memory` of address space. On kernels before 5.14 RLIMIT_NPROC
counts every process of the run's host uid (nobody for a root grader, else the instructor's own), which makes the
cap tighter than asked (student code may fail to fork), never looser, and never limits the grader itself.
`stdout_tail` is student-controlled text and may quote the probe source it read: show it as such.
"""

import contextlib
import json
import math
import os
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Literal

import numpy as np

Status = Literal["ok", "error", "timeout", "memory", "crashed", "import-failed"]

# The only parts of the host a sandbox sees (besides the runtime, its box, a fresh /proc and /tmp): the OS's
# programs and libraries, read-only (symlinks among them, as with a merged /usr, are recreated as symlinks), and
# single files where they exist: the dynamic loader's cache, the time zone, five device nodes. Not the rest of
# /etc: on a grader host it may list every student's account or hold a service's configuration.
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
SYSTEM_FILES = (
    "etc/ld.so.cache",
    "etc/localtime",
    *(f"dev/{name}" for name in ("null", "zero", "full", "random", "urandom")),
)
# Where the run's own files are inside the sandbox: the box (student/ and grader/) and the runtime's numpy.
INSIDE = Path("/sandbox")
BOX = INSIDE / "box"
SITE = INSIDE / "site"
NOBODY = 65534
TAIL_BYTES = 2048
ERROR_CHARS = 300
PACKAGE_MAX_BYTES = 32 << 20
PACKAGE_MAX_FILES = 2000
STARTUP_SECONDS = 2.0  # a run's own start and teardown, on top of its budgets (a loaded 2-core machine needs ~0.5)
_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    # One BLAS thread: deterministic sums, and no threads to count against the process limit.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (host setup, grader bug): never the student's fault."""


@dataclass(frozen=True)
class Limits:
    timeout: float = 20.0  # wall-clock seconds for the whole run (import + all probes), at least (see `deadline`)
    probe_timeout: float = 10.0  # wall-clock seconds for the import and for each probe (SIGALRM in the worker)
    memory: int = 1 << 30  # address space per process, bytes
    cpu: int = 30  # CPU seconds per process, at least (see `cpu_seconds`)
    processes: int = 64  # processes/threads of the run: bubblewrap's init, the worker and what it starts
    output: int = 32 << 20  # bytes of results, and the largest file the student may write
    tmp: int = 16 << 20  # size of the writable /tmp
    open_files: int = 256

    def deadline(self, probes: int) -> float:
        """Wall-clock seconds a run of `probes` probes may take: `timeout`, or more when the import and every probe
        need it to use their whole budget. A budget is each probe's own: if the run's deadline came sooner, a probe
        stuck after others timed out would be cut short, and reported with another figure than its budget."""
        return max(self.timeout, self.probe_timeout * (probes + 1) + STARTUP_SECONDS)

    def cpu_seconds(self, probes: int) -> int:
        """CPU seconds per process of a run of `probes` probes: `cpu`, or the run's deadline if that is longer, so
        that a loop that spins through every probe's budget is stopped by the budgets, not by the CPU limit."""
        return max(self.cpu, math.ceil(self.deadline(probes)))

    def rlimits(self, probes: int = 0) -> dict[str, int]:
        """The worker's per-process limits for a run of `probes` probes, by `resource` constant name."""
        return {
            "RLIMIT_AS": self.memory,
            "RLIMIT_CPU": self.cpu_seconds(probes),
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_FSIZE": self.output,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }


@dataclass(frozen=True)
class ProbeResult:
    outputs: dict[str, np.ndarray] | None
    error: str | None  # "ExceptionType: message" or what happened to the sandbox, at most ERROR_CHARS
    status: Status
    seconds: float
    stdout_tail: str  # last TAIL_BYTES of the run's stdout+stderr (the same for every probe of a run)
    # The innermost frames of the student's package it failed or hung in, innermost last: (file relative to the
    # package's folder, line, function). Student-controlled like the rest; () when unknown.
    where: tuple[tuple[str, int, str], ...] = ()


@dataclass(frozen=True)
class Runtime:
    bwrap: Path
    python: Path  # Debian's python3.X: the interpreter inside the sandbox
    numpy: tuple[Path, ...]  # the grader's numpy package and the libraries its wheel bundles, bound at SITE
    numpy_version: str

    def binds(self) -> dict[Path, Path]:
        """Inside path -> host dir, for every run."""
        return {SITE / path.name: path for path in self.numpy}

    @classmethod
    def find(cls, python: Path | None = None) -> "Runtime":
        """bubblewrap, the sandbox's interpreter and the grader's numpy; SandboxError names what is missing."""
        minor = f"3.{sys.version_info.minor}"
        python = python or Path(f"/usr/bin/python{minor}")
        if not os.access(python, os.X_OK):
            raise SandboxError(f"{python} not found: the sandbox needs Debian's python: apt-get install python{minor}")
        bwrap = shutil.which("bwrap", path=_ENV["PATH"])
        if bwrap is None:
            raise SandboxError("the sandbox needs bubblewrap: apt-get install bubblewrap")
        package = Path(np.__file__).resolve().parent
        # auditwheel puts the libraries a wheel bundles (OpenBLAS) beside the package; numpy's RPATH finds them there.
        bundled = package.with_name(f"{package.name}.libs")
        dirs = (package, bundled) if bundled.is_dir() else (package,)
        if os.geteuid() == 0 and not all(map(_others_can_read, dirs)):
            dirs = _public_copy(dirs, np.__version__)
        return cls(bwrap=Path(bwrap), python=python, numpy=dirs, numpy_version=np.__version__)


def _others_can_read(folder: Path) -> bool:
    """Whether a user with no special rights (nobody) can reach `folder` and list it: every ancestor searchable by
    others, the folder itself readable and searchable by others."""
    needed = stat.S_IROTH | stat.S_IXOTH
    if os.stat(folder).st_mode & needed != needed:
        return False
    return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in folder.parents)


def _public_copy(dirs: tuple[Path, ...], version: str) -> tuple[Path, ...]:
    """Root-owned, world-readable copies of `dirs` in the temp dir, made once per numpy version: for a root grader
    whose venv lives where nobody cannot reach it (under /root, or a home folder of mode 0750)."""
    home = Path(tempfile.gettempdir()) / f"tinytorch-grader-numpy-{version}"
    done = home / ".complete"
    if done.exists():  # trusted only when no one but root could have written it
        info = os.stat(home)
        if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise SandboxError(f"{home} is not root's own: remove it and grade again")
        return tuple(home / d.name for d in dirs)
    staging = Path(tempfile.mkdtemp(prefix=f"{home.name}-", dir=home.parent))
    for folder in dirs:
        shutil.copytree(folder, staging / folder.name, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    for path in [staging, *staging.rglob("*")]:  # mkdtemp gives 0700; others need to read, never to write
        os.chmod(path, 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    (staging / ".complete").touch()
    try:
        staging.rename(home)
    except OSError:  # another grading process got there first: theirs is as good
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(home / d.name for d in dirs)


def prepare_runtime(python: Path | None = None) -> Runtime:
    """Find the runtime (`Runtime.find`) and prove that a sandbox runs here: SandboxError names what to fix.

    Writes nothing (but, for a root grader whose venv nobody can reach, one public copy of numpy), so it is
    idempotent and safe to call concurrently; a grading process calls it once (autograde.preprocessors caches it).
    """
    runtime = Runtime.find(python)
    _prove(runtime)
    sweep()
    return runtime


def _prove(runtime: Runtime) -> None:
    """Import numpy in a sandbox exactly as a run does; on failure, say why in terms an admin can act on."""
    code = f"import sys; sys.path.insert(0, {str(SITE)!r}); import numpy; print(numpy.__version__)"
    proc = _launch(runtime, [str(runtime.python), "-I", "-S", "-B", "-c", code], {}, Limits.tmp)
    try:
        output, timed_out = _drain(proc, time.monotonic() + 60)
    finally:
        if proc.poll() is None:
            _kill(proc)
        proc.stdout.close()
    said = output.decode("utf-8", "replace")
    if said.strip() == runtime.numpy_version and proc.returncode == 0:
        return
    if "bwrap: " in said:
        raise SandboxError(_host_problem(said))
    where = ", ".join(map(str, runtime.numpy))
    raise SandboxError(
        f"numpy {runtime.numpy_version} ({where}) does not import under {runtime.python} in the sandbox "
        f"({'timed out' if timed_out else _exit_text(proc.returncode)}):\n{said}"
    )


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", name.replace(".", "/")).read_text().strip()
    except OSError:
        return None


def _host_problem(said: str) -> str:
    """Why bubblewrap (whose error message is in `said`) cannot build a sandbox here, and what an admin does."""
    said = said.strip()[-600:]
    apparmor = "kernel.apparmor_restrict_unprivileged_userns"
    if "Unknown option" in said:
        cause, fix = "this bubblewrap is too old", "install bubblewrap 0.8 or newer (Debian 12's or later)"
    elif "source" in said and "Permission denied" in said:
        uid = NOBODY if os.geteuid() == 0 else os.getuid()
        cause = f"bubblewrap runs as uid {uid}, who cannot reach a folder it binds"
        fix = (
            "as root the sandbox is built as nobody: keep the course and its venv where every user may read them "
            "(parent folders searchable by others, chmod o+x), or grade as an ordinary user"
        )
    elif _sysctl("user.max_user_namespaces") == "0":
        cause = "user namespaces are disabled (sysctl user.max_user_namespaces = 0)"
        fix = "as root, `sysctl -w user.max_user_namespaces=15000` and the same line in /etc/sysctl.d/ to keep it"
    elif _sysctl("kernel.unprivileged_userns_clone") == "0":
        cause = "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone = 0)"
        fix = "as root, `sysctl -w kernel.unprivileged_userns_clone=1` and the same line in /etc/sysctl.d/"
    elif _sysctl(apparmor) == "1":
        cause = f"AppArmor restricts unprivileged user namespaces ({apparmor} = 1)"
        fix = (
            "as root, allow them to bwrap: write /etc/apparmor.d/bwrap with `abi <abi/4.0>, include <tunables/global>"
            " profile bwrap /usr/bin/bwrap flags=(unconfined) { userns, }` and run `apparmor_parser -r "
            f"/etc/apparmor.d/bwrap` (or `sysctl -w {apparmor}=0`)"
        )
    elif "ENOSPC" in said:
        cause = "no more user namespaces may be created: user.max_user_namespaces is reached in an enclosing one"
        fix = "grade outside the container or sandbox that sets that limit, or raise it where it is set"
    elif Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        cause = "this container forbids what bubblewrap needs (new namespaces, a fresh /proc)"
        fix = (
            "start the container with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined "
            "--security-opt systempaths=unconfined` (Docker; Podman: `--security-opt unmask=ALL` for the last)"
        )
    else:
        cause, fix = "bubblewrap could not build the sandbox", "see bubblewrap's message below"
    return f"the sandbox cannot be built on this host: {cause}. Fix: {fix}. No student code ran. bwrap said:\n{said}"


def _bwrap_args(runtime: Runtime, binds: dict[Path, Path], tmp: int) -> list[str]:
    """bubblewrap's options for a new root holding the OS, `binds` (inside -> host dir) and a `tmp`-byte /tmp."""
    args = [str(runtime.bwrap), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    args += ["--new-session", "--cap-drop", "ALL", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    args += ["--hostname", "sandbox", "--clearenv"]
    for key, value in _ENV.items():
        args += ["--setenv", key, value]
    for name in SYSTEM_DIRS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for name in SYSTEM_FILES:
        args += ["--dev-bind-try" if name.startswith("dev/") else "--ro-bind-try", f"/{name}", f"/{name}"]
    for inside, host in binds.items():
        args += ["--ro-bind", str(host), str(inside)]
    args += ["--proc", "/proc", "--size", str(tmp), "--perms", "1777", "--tmpfs", "/tmp"]
    # Last: the root tmpfs (bubblewrap makes it the sandbox uid's) and the mount points on it become read-only.
    return args + ["--remount-ro", "/", "--chdir", "/tmp", "--"]


def _enter(cgroups: list[Path], become_nobody: bool) -> Callable[[], None]:
    """What the child does between fork and exec of bubblewrap: join the run's cgroups while it still may (as
    root), then, for a root grader, become the real nobody. Only async-signal-safe-ish os calls: no imports."""
    procs = [str(path / "cgroup.procs") for path in cgroups]

    def enter() -> None:
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        if become_nobody:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)

    return enter


def _launch(
    runtime: Runtime, command: list[str], binds: dict[Path, Path], tmp: int, cgroups: list[Path] = (), keep=()
) -> subprocess.Popen:
    """Start `command` in a new sandbox with the runtime's and `binds`' dirs; stdout+stderr on one pipe."""
    become_nobody = os.geteuid() == 0
    try:
        return subprocess.Popen(
            _bwrap_args(runtime, runtime.binds() | binds, tmp) + command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=keep,
            env=_ENV,
            cwd="/",
            start_new_session=True,
            preexec_fn=_enter(list(cgroups), become_nobody) if cgroups or become_nobody else None,
        )
    except subprocess.SubprocessError as exc:  # raised in the child by `_enter`
        raise SandboxError(
            f"could not join the run's cgroups or, as root, become uid {NOBODY} before starting bubblewrap "
            f"(in a user namespace, is {NOBODY} mapped?): {exc}"
        ) from None


def sweep(older_than: float = 3600.0) -> None:
    """Remove what runs of a grader that was killed outright left behind: empty cgroups, scratch dirs.

    Its sandbox ended with it (`--die-with-parent`); only these remain. Anything younger than
    `older_than` seconds may belong to a run in progress, so it is left alone.
    """
    cutoff = time.time() - older_than
    for path in set(_cgroup_mounts().values()):
        for stale in path.glob("**/tinytorch-sandbox-*"):
            try:
                if stale.stat().st_mtime < cutoff:
                    stale.rmdir()  # fails while a process is still in it, as it should
            except OSError:
                pass
    for stale in Path(tempfile.gettempdir()).glob("tinytorch-sandbox-*"):
        try:
            old = stale.stat().st_mtime < cutoff
        except OSError:  # a run in another worker finished and removed it meanwhile
            continue
        if old:
            shutil.rmtree(stale, ignore_errors=True)


def _copy_package(source: Path, target: Path) -> str | None:
    """Copy regular files only (never follow a symlink: root would read its target); None or why it failed."""
    if not source.is_dir() or source.is_symlink():
        return None  # the import then fails with a clear ModuleNotFoundError
    total, count = 0, 0
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (Path(folder) / d).is_symlink()]
        destination = target / Path(folder).relative_to(source)
        destination.mkdir(mode=0o755, parents=True, exist_ok=True)
        for name in files:
            info = os.lstat(Path(folder) / name)
            if not stat.S_ISREG(info.st_mode):
                continue
            total, count = total + info.st_size, count + 1
            if total > PACKAGE_MAX_BYTES or count > PACKAGE_MAX_FILES:
                return f"your package is larger than {PACKAGE_MAX_BYTES >> 20} MiB or {PACKAGE_MAX_FILES} files"
            shutil.copyfile(Path(folder) / name, destination / name, follow_symlinks=False)
            os.chmod(destination / name, 0o644)
    return None


class _Cgroup:
    """Best-effort per-run cgroups: total memory, tasks and CPU of everything in the sandbox."""

    def __init__(self, dirs: list[Path], memory_events: Path | None):
        self.dirs = dirs
        self.memory_events = memory_events

    @classmethod
    def create(cls, limits: Limits) -> "_Cgroup":
        name = f"tinytorch-sandbox-{uuid.uuid4().hex[:12]}"
        memory = limits.memory + limits.tmp + (256 << 20)  # one full-size process plus /tmp and slack
        v1 = {
            "memory": [("memory.limit_in_bytes", memory)],
            "pids": [("pids.max", limits.processes + 8)],
            "cpu": [("cpu.cfs_period_us", 100_000), ("cpu.cfs_quota_us", 100_000)],
        }
        v2 = [("memory.max", memory), ("memory.swap.max", 0), ("pids.max", limits.processes + 8)]
        v2 += [("cpu.max", "100000 100000")]
        dirs, events = [], None
        mounts, own = _cgroup_mounts(), _own_cgroups()
        for controller, settings in v1.items():
            base = mounts.get(controller)
            if base is None or controller not in own:
                continue
            made = cls._make(base / own[controller].lstrip("/") / name, settings)
            if made:
                dirs.append(made)
                events = made / "memory.oom_control" if controller == "memory" else events
        if not dirs and "" in mounts and "" in own:
            parent = mounts[""] / own[""].lstrip("/")
            try:
                enabled = set((parent / "cgroup.subtree_control").read_text().split())
            except OSError:
                enabled = set()
            if {"memory", "pids"} <= enabled:
                settings = [(k, v) for k, v in v2 if k.split(".")[0] in enabled]
                made = cls._make(parent / name, settings)
                if made:
                    dirs, events = [made], made / "memory.events"
        return cls(dirs, events)

    @staticmethod
    def _make(path: Path, settings: list[tuple[str, object]]) -> Path | None:
        try:
            path.mkdir()
        except OSError:
            return None
        try:
            for key, value in settings:
                if (path / key).exists():
                    (path / key).write_text(str(value))
            return path
        except OSError:
            path.rmdir()
            return None

    def oom_kills(self) -> int:
        try:
            for line in self.memory_events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, AttributeError, ValueError):
            pass
        return 0

    def destroy(self) -> None:
        """Kill whatever is left (there should be nothing) and remove the groups."""
        for path in self.dirs:
            deadline = time.monotonic() + 5
            while True:
                try:
                    pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
                except OSError:
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    path.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SandboxError(f"cannot remove cgroup {path}") from None
                    time.sleep(0.01)


def _cgroup_mounts() -> dict[str, Path]:
    """controller -> mount point of its v1 hierarchy; "" -> the v2 mount point."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        fstype, _, options = tail.split(" ", 2)
        root, mount_point = fields.split()[3:5]
        if root != "/":
            continue  # a container's view of a sub-hierarchy: our own paths would not map; skip
        if fstype == "cgroup2":
            found.setdefault("", Path(mount_point))
        elif fstype == "cgroup":
            for option in options.split(","):
                found.setdefault(option, Path(mount_point))
    return found


def _own_cgroups() -> dict[str, str]:
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def child_pids(pid: int) -> list[int]:
    """The pids whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat_line = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat_line.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


def _kill(proc: subprocess.Popen) -> None:
    """Kill the namespace's init (the kernel then kills the whole namespace) and wait for the teardown."""
    for pid in child_pids(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _drain(proc: subprocess.Popen, deadline: float) -> tuple[bytes, bool]:
    """Read stdout+stderr until EOF, keeping only the tail; True if the deadline came first."""
    tail, fd = bytearray(), proc.stdout.fileno()
    poller = select.poll()  # not select(): a busy grader may hold descriptors above 1024
    poller.register(fd, select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(tail), True
        if poller.poll(remaining * 1000):
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            tail += chunk
            del tail[:-TAIL_BYTES]
    try:
        proc.wait(max(deadline - time.monotonic(), 0.05))
        return bytes(tail), False
    except subprocess.TimeoutExpired:
        return bytes(tail), True


def _read_frames(fd: int, cap: int) -> tuple[list[tuple[dict, memoryview]], str | None]:
    """Parse the results channel; stops at the first malformed frame (a crash mid-write, or forgery)."""
    size = os.fstat(fd).st_size
    if size > cap:
        return [], f"the results were larger than {cap} bytes"
    data = memoryview(os.pread(fd, size, 0))
    frames, position = [], 0
    while position < len(data):
        if len(data) - position < 12:
            return frames, "the results end mid-record"
        (length,) = struct.unpack_from("<Q", data, position)
        body = data[position + 8 : position + 8 + length]
        position += 8 + length
        if len(body) != length or length < 4:
            return frames, "the results end mid-record"
        (meta_length,) = struct.unpack_from("<I", body)
        if meta_length > min(len(body) - 4, 1 << 16):
            return frames, "a results record is malformed"
        try:
            meta = json.loads(bytes(body[4 : 4 + meta_length]))
        except (ValueError, RecursionError):
            return frames, "a results record is malformed"
        # Forged records may hold any JSON: insist on the shape _results relies on (hashable names included).
        if not (
            isinstance(meta, dict) and isinstance(meta.get("event"), str) and isinstance(meta.get("name", ""), str)
        ):
            return frames, "a results record is malformed"
        frames.append((meta, body[4 + meta_length :]))
    return frames, None


def _load_array(blob: bytes) -> np.ndarray:
    """One .npy blob, accepted only as a plain numeric/bool array whose size matches its header."""
    file = BytesIO(blob)
    version = np.lib.format.read_magic(file)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"unsupported .npy version {version}")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(file)
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"dtype {dtype} is not a plain numeric or bool type")
    if len(shape) > 32 or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(f"shape {shape} is not valid")
    if math.prod(shape) * dtype.itemsize != len(blob) - file.tell():
        raise ValueError("its data does not match its declared shape")
    file.seek(0)
    return np.lib.format.read_array(file, allow_pickle=False)


def _outputs(meta: dict, payload: memoryview) -> dict[str, np.ndarray]:
    index = meta.get("arrays")
    if not isinstance(index, list):
        raise ValueError("no output index")
    outputs, position = {}, 0
    for entry in index:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise ValueError("bad output index")
        key, size = entry
        if not isinstance(size, int) or size < 0 or position + size > len(payload) or len(key) > 200:
            raise ValueError("bad output index")
        try:
            outputs[key] = _load_array(bytes(payload[position : position + size]))
        except Exception as exc:  # untrusted bytes: whatever numpy's parser raises, the output is rejected
            raise ValueError(f"output {key!r} rejected: {exc}") from None
        position += size
    if position != len(payload):
        raise ValueError("unexpected data after the outputs")
    return outputs


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def _memory_note(error: str, status: str, limits: Limits) -> str:
    return _text(f"{error} (the sandbox allows {limits.memory >> 20} MiB)") if status == "memory" else error


def _frames(value: object) -> tuple[tuple[str, int, str], ...]:
    """The worker's `where` list, kept only in the shape it is sent in (forged records may hold any JSON)."""
    if not isinstance(value, list) or len(value) > 8:
        return ()
    frames = []
    for frame in value:
        if not (isinstance(frame, list) and len(frame) == 3 and isinstance(frame[1], int)):
            return ()
        if not all(isinstance(text, str) and len(text) <= 200 for text in (frame[0], frame[2])):
            return ()
        frames.append((frame[0], frame[1], frame[2]))
    return tuple(frames)


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) and value >= 0 else 0.0


def _exit_text(code: int | None) -> str:
    if code is not None and code > 128 and code - 128 in signal.valid_signals():
        return f"was killed by {signal.Signals(code - 128).name}"
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def run_probes(
    package: Path,
    probe_module: Path,
    probes: list[str],
    inputs: dict[str, dict[str, np.ndarray]],
    limits: Limits = Limits(),
    *,
    runtime: Runtime | None = None,
) -> dict[str, ProbeResult]:
    """Run `probes` (functions of `probe_module`) on the student's `package`/tinytorch in a fresh sandbox.

    Returns one ProbeResult per probe, in order. Raises SandboxError only for faults of the grader's host.
    """
    return run_many([Job(package, probe_module, probes, inputs)], limits, runtime=runtime)[0]


@dataclass(frozen=True)
class Job:
    """What one sandbox run does: `probes` (functions of `probe_module`) on `package`/tinytorch, fed `inputs`."""

    package: Path
    probe_module: Path
    probes: list[str]
    inputs: dict[str, dict[str, np.ndarray]]


def run_many(jobs: list[Job], limits: Limits = Limits(), *, runtime: Runtime | None = None) -> list[dict]:
    """Run each job in a fresh sandbox of its own (as `run_probes`), all at the same time; their results, in order.

    Runs share nothing: each has its own box, results file, cgroups, namespaces and deadline. Every sandbox is
    started from this thread before any other thread exists (a root grader's bubblewrap starts from a fork that runs
    Python code, which is only safe without other threads); then one thread per run waits for it.
    """
    for job in jobs:
        if len(set(job.probes)) != len(job.probes) or not all(name.isidentifier() for name in job.probes):
            raise ValueError(f"probe names must be distinct identifiers: {job.probes}")
        if not set(job.inputs) <= set(job.probes):
            raise ValueError(f"inputs for unknown probes: {sorted(set(job.inputs) - set(job.probes))}")
    runtime = runtime or prepare_runtime()
    with contextlib.ExitStack() as cleanup:
        runs = [_start(job, limits, runtime, cleanup) for job in jobs]
        if len(runs) == 1:
            return [_finish(runs[0], limits)]
        with ThreadPoolExecutor(len(runs)) as pool:
            return list(pool.map(lambda run: _finish(run, limits), runs))


@dataclass
class _Started:
    """A run in progress (or one that never started: `early` holds its results)."""

    probes: list[str]
    results_fd: int = -1
    cgroup: "_Cgroup | None" = None
    proc: subprocess.Popen | None = None
    start: float = 0.0
    early: dict[str, ProbeResult] | None = None


def _start(job: Job, limits: Limits, runtime: Runtime, cleanup: contextlib.ExitStack) -> _Started:
    """Fill a fresh box for `job` and start its sandbox; `cleanup` removes the box and the cgroups afterwards."""
    base = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="tinytorch-sandbox-"))
    # Others may pass through `base` but not list it, so only who knows the box's random name reaches it:
    # the grader and its bubblewrap (which a root grader starts as nobody).
    os.chmod(base, 0o711)
    box = Path(base) / uuid.uuid4().hex
    results_fd = os.open(Path(base) / "results", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
    cleanup.callback(os.close, results_fd)
    too_large = _fill_box(box, job.package, job.probe_module, job.probes, job.inputs, limits, results_fd)
    if too_large:
        early = {name: ProbeResult(None, too_large, "import-failed", 0.0, "") for name in job.probes}
        return _Started(job.probes, early=early)
    cgroup = _Cgroup.create(limits)
    cleanup.callback(cgroup.destroy)
    grader = BOX / "grader"
    worker = [str(runtime.python), "-I", "-S", "-B", str(grader / "worker.py"), str(grader / "config.json")]
    start = time.monotonic()
    proc = _launch(runtime, worker, {BOX: box}, limits.tmp, cgroup.dirs, keep=(results_fd,))
    cleanup.callback(_stop, proc)
    return _Started(job.probes, results_fd, cgroup, proc, start)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        _kill(proc)
    proc.stdout.close()


def _finish(run: _Started, limits: Limits) -> dict[str, ProbeResult]:
    """Wait for a started run until its deadline, stop it, and read its results."""
    if run.early is not None:
        return run.early
    try:
        tail, timed_out = _drain(run.proc, run.start + limits.deadline(len(run.probes)))
    finally:
        _stop(run.proc)
    elapsed = time.monotonic() - run.start
    frames, problem = _read_frames(run.results_fd, limits.output)
    oom = run.cgroup.oom_kills() > 0
    stdout_tail = tail.decode("utf-8", "replace")
    return _results(run.probes, frames, problem, run.proc.returncode, timed_out, oom, elapsed, limits, stdout_tail)


def _fill_box(
    box: Path,
    package: Path,
    probe_module: Path,
    probes: list[str],
    inputs: dict[str, dict[str, np.ndarray]],
    limits: Limits,
    results_fd: int,
) -> str | None:
    """Copy what the run needs into `box` (world-readable: the sandbox's uid reads it); None or why it failed."""
    (box / "grader").mkdir(mode=0o755, parents=True)
    (box / "student").mkdir(mode=0o755)
    os.chmod(box, 0o755)
    too_large = _copy_package(Path(package) / "tinytorch", box / "student" / "tinytorch")
    if too_large:
        return too_large
    # the probe module with its siblings (shared helpers), as the package `probes`
    (box / "grader" / "probes").mkdir()
    for source in Path(probe_module).parent.glob("*.py"):
        shutil.copyfile(source, box / "grader" / "probes" / source.name)
    shutil.copyfile(Path(__file__).with_name("worker.py"), box / "grader" / "worker.py")
    arrays = {f"{name}/{key}": np.asarray(value) for name, given in inputs.items() for key, value in given.items()}
    np.savez(box / "grader" / "inputs.npz", **arrays)
    config = {
        "results_fd": results_fd,
        "limits": limits.rlimits(len(probes)),
        "student": str(BOX / "student"),
        "site": str(SITE),
        "grader": str(BOX / "grader"),
        "probe_module": f"probes.{Path(probe_module).stem}",
        "inputs": str(BOX / "grader" / "inputs.npz"),
        "probes": probes,
        "probe_timeout": limits.probe_timeout,
        "max_output": limits.output // 2,  # leaves room for the frames' own overhead
    }
    (box / "grader" / "config.json").write_text(json.dumps(config))
    for path in (box / "grader").rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return None


def _results(
    probes: list[str],
    frames: list[tuple[dict, memoryview]],
    problem: str | None,
    code: int | None,
    timed_out: bool,
    oom: bool,
    elapsed: float,
    limits: Limits,
    tail: str,
) -> dict[str, ProbeResult]:
    events = {meta.get("event"): (meta, payload) for meta, payload in frames}
    if "ready" not in events and not timed_out:
        if "bwrap: " in tail:  # bubblewrap could not build the sandbox: no student code ran
            raise SandboxError(_host_problem(tail))
        raise SandboxError(f"the sandbox failed before running student code ({_exit_text(code)}):\n{tail}")
    # What ended the run early, if it did not finish.
    if timed_out:
        budget = f"did not finish within {limits.probe_timeout:g} s"
        status, why = "timeout", f"{budget} and could not be interrupted, so the sandbox stopped it"
    elif oom:
        status, why = "memory", f"the sandbox ran out of memory (limit {limits.memory >> 20} MiB)"
    elif code == 128 + signal.SIGXCPU:
        status, why = "timeout", f"it used more than {limits.cpu_seconds(len(probes))} s of CPU time"
    elif "worker-error" in events:
        status, why = "crashed", f"the sandbox worker failed: {_text(events['worker-error'][0].get('error'))}"
    elif problem:
        status, why = "crashed", f"the sandbox process {_exit_text(code)} and {problem}"
    else:
        status, why = "crashed", f"the sandbox process {_exit_text(code)}"
    if "import" not in events:
        error = _text(f"{why}, while importing your package")
        return {name: ProbeResult(None, error, status, elapsed, tail) for name in probes}
    imported = events["import"][0]
    if imported.get("status") != "ok":
        import_status = imported.get("status")
        import_status = import_status if import_status in ("timeout", "memory") else "import-failed"
        error = _memory_note(_text(imported.get("error")) or "import failed", import_status, limits)
        where = _frames(imported.get("where"))
        return {name: ProbeResult(None, error, import_status, 0.0, tail, where) for name in probes}
    done = {meta.get("name"): (meta, payload) for meta, payload in frames if meta.get("event") == "probe"}
    results: dict[str, ProbeResult] = {}
    culprit = None
    for name in probes:
        if name in done:
            meta, payload = done[name]
            seconds, outputs = _seconds(meta.get("seconds")), None
            probe_status = meta.get("status")
            if probe_status == "ok":
                try:
                    outputs, error = _outputs(meta, payload), None
                except ValueError as exc:
                    probe_status, error = "error", _text(exc)
            elif probe_status in ("error", "timeout", "memory"):
                error = _memory_note(_text(meta.get("error")) or probe_status, probe_status, limits)
            else:
                probe_status, error = "crashed", "the probe's result record is malformed"
            results[name] = ProbeResult(outputs, error, probe_status, seconds, tail, _frames(meta.get("where")))
        elif "done" in events:
            results[name] = ProbeResult(None, "no result was recorded for this probe", "crashed", 0.0, tail)
        elif culprit is None:
            culprit = name
            results[name] = ProbeResult(None, _text(f"{why}, while running this probe"), status, elapsed, tail)
        else:
            results[name] = ProbeResult(None, _text(f"not run: {why}, during probe {culprit}"), status, 0.0, tail)
    return results
