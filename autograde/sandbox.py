"""Run probes against a student's package in a sandbox; only validated NumPy arrays come back.

Threat model. A submission is arbitrary Python that runs with the grader's privileges unless contained. It may
try to: read the reference package, the fixtures (expected outputs), the instructor notebooks, other students'
submissions or the host's secrets; reach the network; change the verdict (forge results, patch numpy so that
comparisons pass, crash or hang the grader); or exhaust the host (memory, processes, disk, CPU, output). The
grader assumes Linux, root, util-linux (`unshare`, `setpriv`, `prlimit`, `mount`), coreutils and Debian's
python3.X (the venv's minor version).

Runtime (`prepare_runtime`, once per machine; idempotent through a stamp file, safe to call concurrently): the
venv's numpy version is installed with the venv's pip (`pip install --target`) into /var/lib/tinytorch-grader/site,
world-readable, bound into every sandbox, and proven to import as nobody under /usr/bin/python3.X -I -S.

How each run is isolated (`run_probes`):
- Files. The student's `tinytorch/` (regular files only: symlinks and `__pycache__` are dropped, size capped),
  our probe package (the probe module's folder, imported as `probes`), `worker.py` and an inputs-only .npz are
  copied, root-owned and read-only, into a fresh scratch dir under a 0700 root-only temp dir. In a new mount
  namespace (`unshare --mount --propagation private`, so no mount is ever seen by the host and all vanish with the
  namespace) a new root is built on a tmpfs and entered with `pivot_root`, the old root detached: read-only binds
  of the OS (/usr and the /bin, /lib... links or dirs), of the runtime's numpy and of the scratch dir (at
  `<runtime>/box`), two files of /etc (loader cache, time zone), five device nodes, a fresh /proc of the new
  PID namespace and a small writable /tmp (`Limits.tmp`). It is an allow-list: the course root, any clone of
  it, the venv, the nbgrader exchange, home folders, other runs' scratch dirs, wherever the host keeps them,
  are not in this root at all.
- Identity. The worker runs as `nobody` (65534) with no groups, no capabilities (bounding set emptied) and
  no_new_privs, so root-only files stay closed and setuid binaries gain nothing.
- Interpreter. Debian's /usr/bin/python3.X with `-I -S -B`; sys.path = [student dir, runtime numpy, stdlib]:
  neither the reference `tinytorch` nor the venv is on it, and they are not in its root besides.
- Network and IPC. New net namespace (only a down loopback: every connect fails), new IPC and UTS namespaces.
- Processes. New PID namespace whose init is a root `sh` that the student cannot signal; the parent kills it
  on the wall-clock deadline (`Limits.timeout`) and the kernel then kills every process in the namespace, forked
  or daemonised ones included. Should the grader itself die, `unshare --kill-child` or, failing that, a
  `timeout -s KILL` inside (at timeout + 5 s) ends the run; `sweep()` later removes its scratch dir and cgroups.
- Resources. Per process (prlimit): address space (`memory`), CPU seconds, processes of uid nobody, file size
  (`output`: bounds the results channel and any file in /tmp), open files, no core dumps. Per run, where the
  host lets root create cgroups (v1 here; v2 only where the controllers are already delegated): total memory,
  tasks and one CPU, which also bound a fork bomb whose every child allocates. The worker itself gives each
  probe (and the import) `probe_timeout` via SIGALRM, so one hanging probe does not cost the others.
- Output. stdout+stderr go to a pipe the parent drains, keeping only the last `TAIL_BYTES`: unbounded printing
  costs the student's time, never the grader's memory or disk.
- Results. The worker writes frames (JSON meta + .npy blobs) to an inherited descriptor of a file outside the
  box. The parent parses them with size caps and reads arrays with `allow_pickle=False`, accepting only plain
  numeric/bool dtypes whose byte size matches their header. Nothing is unpickled or imported from the sandbox.
  Student code shares the worker's process, so it may forge frames: that only yields arrays the student's code
  could have returned anyway, and all comparisons run here, in the parent, with the parent's numpy.

Not isolated: the student can read the probe module and the inputs (they are no secret; expected outputs never
enter the sandbox), world-readable files of /usr, and the sandbox's own /proc, and the kernel itself
is shared (a kernel exploit escapes any namespace sandbox). RLIMIT_NPROC counts every process of uid nobody on
the host, so concurrent runs share that cap (the per-run pids cgroup is the real bound where available).
`stdout_tail` is student-controlled text and may quote the probe source it read: show it as such.
"""

import fcntl
import json
import math
import os
import select
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Literal

import numpy as np

Status = Literal["ok", "error", "timeout", "memory", "crashed", "import-failed"]

DEFAULT_CACHE = Path("/var/lib/tinytorch-grader")
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
NOBODY = 65534
TAIL_BYTES = 2048
ERROR_CHARS = 300
PACKAGE_MAX_BYTES = 32 << 20
PACKAGE_MAX_FILES = 2000
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
    timeout: float = 20.0  # wall-clock seconds for the whole run (import + all probes)
    probe_timeout: float = 10.0  # wall-clock seconds for the import and for each probe (SIGALRM in the worker)
    memory: int = 1 << 30  # address space per process, bytes
    cpu: int = 30  # CPU seconds per process
    processes: int = 64  # processes/threads of uid nobody
    output: int = 32 << 20  # bytes of results, and the largest file the student may write
    tmp: int = 16 << 20  # size of the writable /tmp
    open_files: int = 256


@dataclass(frozen=True)
class ProbeResult:
    outputs: dict[str, np.ndarray] | None
    error: str | None  # "ExceptionType: message" or what happened to the sandbox, at most ERROR_CHARS
    status: Status
    seconds: float
    stdout_tail: str  # last TAIL_BYTES of the run's stdout+stderr (the same for every probe of a run)


@dataclass(frozen=True)
class Runtime:
    root: Path  # world-readable; `site` and the run's box are bound into every sandbox from here
    python: Path
    site: Path  # numpy, installed with pip --target
    numpy_version: str

    @property
    def mountpoint(self) -> Path:
        return self.root / "box"

    @property
    def jail(self) -> Path:
        """Empty on the host; inside a run, the new root: a tmpfs holding only what the sandbox may see."""
        return self.root / "jail"


def _check_tools() -> None:
    names = ("unshare", "setpriv", "prlimit", "mount", "pivot_root", "timeout")
    missing = [name for name in names if shutil.which(name, path=_ENV["PATH"]) is None]
    if missing:
        raise SandboxError(f"the sandbox needs {', '.join(missing)}: apt-get install util-linux mount coreutils")


def prepare_runtime(cache: Path = DEFAULT_CACHE, python: Path | None = None) -> Runtime:
    """Install the grader's numpy version for the sandbox interpreter into `cache`/site, once (idempotent).

    The venv's interpreter lives under /root (mode 700 here), which `nobody` cannot execute, and the venv is
    not in the sandbox's root; so the sandbox runs Debian's python3.X (same minor version, so the venv's cp3X
    wheel fits) with numpy from `cache`. Safe to call concurrently (file lock) and on every grading run (stamp check).
    """
    if os.geteuid() != 0:
        raise SandboxError(
            "the sandbox must run as root: it creates namespaces and then becomes nobody "
            "(grade with sudo, as in the README's 'Running the course on JupyterHub')"
        )
    _check_tools()
    minor = f"3.{sys.version_info.minor}"
    python = python or Path(f"/usr/bin/python{minor}")
    if not os.access(python, os.X_OK):
        raise SandboxError(f"{python} not found: the sandbox needs the system's python: apt-get install python{minor}")
    version = np.__version__
    cache = cache.resolve()
    runtime = Runtime(root=cache, python=python, site=cache / "site", numpy_version=version)
    cache.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(cache, 0o755)
    runtime.jail.mkdir(mode=0o755, exist_ok=True)
    stamp_file, wanted = cache / "stamp.json", {"numpy": version, "python": str(python)}
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            installed = json.loads(stamp_file.read_text()) == wanted and runtime.site.is_dir()
        except (OSError, ValueError):
            installed = False
        if not installed:
            stamp_file.unlink(missing_ok=True)
            _install_numpy(runtime)
            stamp_file.write_text(json.dumps(wanted))
    sweep()
    return runtime


def _install_numpy(runtime: Runtime) -> None:
    shutil.rmtree(runtime.site, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    pip += ["--only-binary=:all:", "--target", str(runtime.site), f"numpy=={runtime.numpy_version}"]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxError(f"pip could not install numpy into {runtime.site}:\n{done.stderr[-2000:]}")
    subprocess.run(["chmod", "-R", "a+rX", str(runtime.site)], check=True)
    # Prove it works the way the sandbox uses it: as nobody, isolated, numpy from the site dir only.
    code = f"import sys; sys.path.insert(0, {str(runtime.site)!r}); import numpy; print(numpy.__version__)"
    nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    check = subprocess.run(
        [*nobody, str(runtime.python), "-I", "-S", "-B", "-c", code], capture_output=True, text=True, cwd="/", env=_ENV
    )
    if check.stdout.strip() != runtime.numpy_version:
        raise SandboxError(f"numpy in {runtime.site} does not import under {runtime.python}:\n{check.stderr}")


def sweep(older_than: float = 3600.0) -> None:
    """Remove what runs of a grader that was killed outright left behind: empty cgroups, scratch dirs.

    Its sandbox ended by itself (the backstop timeout); only these remain. Anything younger than
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


def _script(box: Path, runtime: Runtime, cgroups: list[Path], limits: Limits) -> str:
    """The shell that runs as root init of the new namespaces: join cgroups, build the new root, drop to nobody."""
    q, jail = shlex.quote, runtime.jail
    lines = ["set -e"]
    lines += [f"echo 0 > {q(str(path / 'cgroup.procs'))}" for path in cgroups]
    # An allow-list, not a block-list: whatever the host keeps elsewhere (the course, a clone of it, the venv,
    # the exchange, other runs' scratch dirs) is simply absent from the new root.
    lines += [f"mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m tmpfs {q(str(jail))}"]
    for name in SYSTEM_DIRS:
        host, inside = Path("/") / name, jail / name
        if host.is_symlink():
            lines += [f"ln -s {q(os.readlink(host))} {q(str(inside))}"]
        elif host.is_dir():
            lines += [f"mkdir {q(str(inside))}", f"mount --rbind {q(str(host))} {q(str(inside))}"]
            lines += [f"mount -o remount,bind,ro,nosuid,nodev {q(str(inside))}"]
    binds = [(runtime.site, jail / runtime.site.relative_to("/")), (box, jail / runtime.mountpoint.relative_to("/"))]
    for host, inside in binds:
        lines += [f"mkdir -p {q(str(inside))}", f"mount --bind {q(str(host))} {q(str(inside))}"]
        lines += [f"mount -o remount,bind,ro,nosuid,nodev {q(str(inside))}"]
    lines += ["mkdir " + " ".join(q(str(jail / name)) for name in ("dev", "etc", "proc", "tmp", ".old"))]
    for name in SYSTEM_FILES:
        if (Path("/") / name).exists():
            lines += [f"touch {q(str(jail / name))}", f"mount --bind /{q(name)} {q(str(jail / name))}"]
    lines += [f"mount -t proc -o nosuid,nodev,noexec proc {q(str(jail / 'proc'))}"]
    lines += [f"mount -t tmpfs -o rw,mode=1777,nosuid,nodev,noexec,size={limits.tmp} tmpfs {q(str(jail / 'tmp'))}"]
    # Swap roots and drop the old one: no path, /proc/*/root included, leads back to the host's files.
    lines += [f"cd {q(str(jail))}", "pivot_root . .old", "umount -l /.old", "rmdir /.old"]
    lines += ["mount -o remount,ro,bind /", "cd /tmp"]
    drop = f"setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups --no-new-privs --inh-caps=-all"
    drop += " --bounding-set=-all --"
    rlimits = f"prlimit --as={limits.memory} --cpu={limits.cpu} --nproc={limits.processes}"
    rlimits += f" --fsize={limits.output} --nofile={limits.open_files} --core=0 --"
    worker = f"{q(str(runtime.python))} -I -S -B {q(str(runtime.mountpoint / 'grader' / 'worker.py'))}"
    # A second wall clock, inside: should the grader die without killing us, the namespace still ends.
    backstop = f"timeout -s KILL {limits.timeout + 5:g}"
    # Not `exec`: this root shell stays init, out of the student's reach, and passes the worker's status on.
    config = q(str(runtime.mountpoint / "grader" / "config.json"))
    lines += ["set +e", f"{backstop} {drop} {rlimits} {worker} {config}", "exit $?"]
    return "\n".join(lines)


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
    if len(set(probes)) != len(probes) or not all(name.isidentifier() for name in probes):
        raise ValueError(f"probe names must be distinct identifiers: {probes}")
    if not set(inputs) <= set(probes):
        raise ValueError(f"inputs for unknown probes: {sorted(set(inputs) - set(probes))}")
    runtime = runtime or prepare_runtime()
    with tempfile.TemporaryDirectory(prefix="tinytorch-sandbox-") as base:  # 0700: only root gets in
        box = Path(base) / "box"
        (box / "grader").mkdir(mode=0o755, parents=True)
        (box / "student").mkdir(mode=0o755)
        os.chmod(box, 0o755)
        too_large = _copy_package(Path(package) / "tinytorch", box / "student" / "tinytorch")
        if too_large:
            return {name: ProbeResult(None, too_large, "import-failed", 0.0, "") for name in probes}
        # the probe module with its siblings (shared helpers), as the package `probes`
        (box / "grader" / "probes").mkdir()
        for source in Path(probe_module).parent.glob("*.py"):
            shutil.copyfile(source, box / "grader" / "probes" / source.name)
        shutil.copyfile(Path(__file__).with_name("worker.py"), box / "grader" / "worker.py")
        arrays = {f"{name}/{key}": np.asarray(value) for name, given in inputs.items() for key, value in given.items()}
        np.savez(box / "grader" / "inputs.npz", **arrays)
        results_fd = os.open(Path(base) / "results", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        inside = runtime.mountpoint
        config = {
            "results_fd": results_fd,
            "student": str(inside / "student"),
            "site": str(runtime.site),
            "grader": str(inside / "grader"),
            "probe_module": f"probes.{Path(probe_module).stem}",
            "inputs": str(inside / "grader" / "inputs.npz"),
            "probes": probes,
            "probe_timeout": limits.probe_timeout,
            "max_output": limits.output // 2,  # leaves room for the frames' own overhead
        }
        (box / "grader" / "config.json").write_text(json.dumps(config))
        for path in (box / "grader").rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        cgroup = _Cgroup.create(limits)
        try:
            unshare = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
            unshare += ["--net", "--ipc", "--uts", "--propagation", "private", "--"]
            script = _script(box, runtime, cgroup.dirs, limits)
            start = time.monotonic()
            proc = subprocess.Popen(
                [*unshare, "/bin/sh", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(results_fd,),
                env=_ENV,
                cwd="/",
                start_new_session=True,
            )
            try:
                tail, timed_out = _drain(proc, start + limits.timeout)
            finally:
                if proc.poll() is None:
                    _kill(proc)
                proc.stdout.close()
            elapsed = time.monotonic() - start
            frames, problem = _read_frames(results_fd, limits.output)
            oom = cgroup.oom_kills() > 0
        finally:
            os.close(results_fd)
            cgroup.destroy()
    stdout_tail = tail.decode("utf-8", "replace")
    return _results(probes, frames, problem, proc.returncode, timed_out, oom, elapsed, limits, stdout_tail)


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
        raise SandboxError(f"the sandbox failed before running student code ({_exit_text(code)}):\n{tail}")
    # What ended the run early, if it did not finish.
    if timed_out:
        status, why = "timeout", f"the sandbox stopped it after {limits.timeout:g} s (wall clock)"
    elif oom:
        status, why = "memory", f"the sandbox ran out of memory (limit {limits.memory >> 20} MiB)"
    elif code == 128 + signal.SIGXCPU:
        status, why = "timeout", f"it used more than {limits.cpu} s of CPU time"
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
        return {name: ProbeResult(None, error, import_status, 0.0, tail) for name in probes}
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
            results[name] = ProbeResult(outputs, error, probe_status, seconds, tail)
        elif "done" in events:
            results[name] = ProbeResult(None, "no result was recorded for this probe", "crashed", 0.0, tail)
        elif culprit is None:
            culprit = name
            results[name] = ProbeResult(None, _text(f"{why}, while running this probe"), status, elapsed, tail)
        else:
            results[name] = ProbeResult(None, _text(f"not run: {why}, during probe {culprit}"), status, 0.0, tail)
    return results
