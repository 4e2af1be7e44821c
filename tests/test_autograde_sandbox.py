"""The autograder's sandbox against real submissions, honest and hostile: real bubblewrap, no mocks.

Every submission is a tiny fake `tinytorch/core/layers.py` written here; the probe module calls its
`Linear(weight, bias).forward(x)` and its `attack(inputs)`, where the hostile ones misbehave. The runs go in
parallel threads (a module fixture starts them all at once) while the host keeps more processes of the sandbox's
uid alive than a run may have; each test then checks one run's verdicts. The same suite then runs again as an
ordinary user (a throwaway system user, created as root: CI runs as root), which must get the same verdicts; a
grader where user namespaces are unavailable must refuse with the fix named. The last tests check that nothing
leaked into the host (processes, mounts, cgroups, scratch dirs) and that runs in a row keep working.
"""

import errno
import glob
import inspect
import json
import os
import pwd
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from autograde import sandbox
from autograde.sandbox import Limits, ProbeResult
from tinytorch_course import settings

pytestmark = pytest.mark.sandbox

LIMITS = Limits(timeout=5.0, probe_timeout=1.5, cpu=10, processes=32, output=8 << 20, tmp=4 << 20)
PROBES = ["forward", "attack", "after"]
ROOT = settings.ROOT
RNG = np.random.default_rng(0)
INPUTS = {"forward": {"x": RNG.normal(size=(4, 3)), "weight": RNG.normal(size=(3, 2)), "bias": RNG.normal(size=2)}}
EXPECTED = INPUTS["forward"]["x"] @ INPUTS["forward"]["weight"] + INPUTS["forward"]["bias"]

PROBE_MODULE = """
import numpy as np
from tinytorch.core import layers

def forward(inputs):
    return {"y": layers.Linear(inputs["weight"], inputs["bias"]).forward(inputs["x"])}

def attack(inputs):
    return layers.attack(inputs)

def after(inputs):
    return {"alive": np.array(True)}

def seeded(inputs):
    np.random.seed(int(inputs["seed"]))
    return {"w": layers.init(3, 2)}
"""

HONEST = """
import numpy as np

STUDENT = 7

class Linear:
    def __init__(self, weight, bias):
        self.weight, self.bias = weight, bias

    def forward(self, x):
        return x @ self.weight + self.bias

def init(n_in, n_out):
    return np.random.randn(n_in, n_out) / np.sqrt(n_in)

def attack(inputs):
    return {"file": np.frombuffer(__file__.encode(), np.uint8), "marker": np.array(STUDENT)}
"""

SECRET_PATHS = [
    ROOT / "nbs/03_layers/03_layers.ipynb",
    ROOT / "tinytorch/core/layers.py",
    ROOT / "settings.ini",
    ROOT / "autograde/fixtures/03_layers.npz",
    Path("/root/.bashrc"),
    Path("/etc/shadow"),
    Path(sys.prefix) / "pyvenv.cfg",
]
# Places the student must not be able to write to (the run's own folders included).
READ_ONLY = ["/", "/var/tmp", "/dev/shm", str(sandbox.INSIDE), str(sandbox.BOX), str(sandbox.SITE)]
SECRET_DIRS = [ROOT, ROOT / "autograde/fixtures", ROOT / ".venv/lib", Path("/root"), Path("/work"), Path("/tmp")]

READER = """
def attack(inputs):
    import glob
    out = {{}}
    for i, path in enumerate({files!r}):
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError:
            data = b""
        out[f"file{{i}}"] = np.frombuffer(data, np.uint8)
    for i, path in enumerate({dirs!r}):
        try:
            out[f"dir{{i}}"] = np.array(len(os.listdir(path)))
        except OSError:
            out[f"dir{{i}}"] = np.array(-1)
    out["scratch"] = np.array(len(glob.glob("/tmp/tinytorch-sandbox-*")))
    return out
"""


def hostile(attack: str = "", at_import: str = "") -> str:
    """An honest Linear, plus module-level code and an `attack` that misbehave."""
    return HONEST + "\nimport os, signal, sys, time, builtins\n" + textwrap.dedent(at_import) + textwrap.dedent(attack)


CASES: dict[str, str] = {
    "honest": HONEST,
    "honest-again": HONEST,
    "loop-at-import": hostile(at_import="while True:\n    pass\n"),
    "loop-in-probe": hostile("def attack(inputs):\n    while True:\n        pass\n"),
    "loop-ignoring-alarm": hostile(
        "def attack(inputs):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass\n"
    ),
    "exit-at-import": hostile(at_import="os._exit(3)\n"),
    "sys-exit-at-import": hostile(at_import="sys.exit(0)\n"),
    "error-at-import": hostile(at_import="raise ValueError('my layers are broken')\n"),
    "segfault": hostile("def attack(inputs):\n    import ctypes\n    ctypes.string_at(0)\n"),
    "memory-numpy": hostile("def attack(inputs):\n    return {'a': np.ones(1 << 31)}\n"),
    "memory-python": hostile(
        "def attack(inputs):\n    hoard = []\n    while True:\n        hoard.append(bytearray(10**7))\n"
    ),
    "memory-at-import": hostile(at_import="HOARD = [bytearray(10**7) for _ in range(1000)]\n"),
    "fork-count": hostile("""
        def attack(inputs):
            children = 0
            for _ in range(1000):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
            return {"children": np.array(children)}
        """),
    "fork-bomb": hostile("""
        def attack(inputs):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """),
    "fork-memory": hostile("""
        def attack(inputs):
            pids = []
            for _ in range(8):
                pid = os.fork()
                if pid == 0:
                    hoard = np.ones(40_000_000)  # 320 MB each, touched, held while the others allocate
                    time.sleep(3)
                    os._exit(hoard.size == 0)
                pids.append(pid)
            killed = sum(os.waitpid(pid, 0)[1] & 0x7F == signal.SIGKILL for pid in pids)
            return {"killed": np.array(killed)}
        """),
    "monkeypatch": hostile(
        at_import="""
            np.allclose = lambda *args, **kwargs: True
            np.array_equal = lambda *args, **kwargs: True
            np.testing.assert_allclose = lambda *args, **kwargs: None
            builtins.round = lambda number, ndigits=None: 0
            Linear.forward = lambda self, x: np.zeros((x.shape[0], self.weight.shape[1]))
            """,
        attack="def attack(inputs):\n    return {'patched': np.array(np.allclose(1, 2))}\n",
    ),
    "identity": hostile("""
        def attack(inputs):
            import ctypes
            status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
            libc = ctypes.CDLL(None, use_errno=True)
            nested = libc.unshare(0x10000000)  # CLONE_NEWUSER: in a namespace of its own it would hold capabilities
            return {
                "uid": np.array([int(n) for n in status["Uid"].split()]),
                "gid": np.array([int(n) for n in status["Gid"].split()]),
                "groups": np.array(len(status["Groups"].split())),
                "capabilities": np.array([int(status[key], 16) for key in ("CapPrm", "CapEff", "CapBnd", "CapAmb")]),
                "no_new_privs": np.array(int(status["NoNewPrivs"])),
                "nested_userns": np.array([nested, ctypes.get_errno()]),
            }
        """),
    "look-around": hostile("""
        def attack(inputs):
            def listing(path):
                names = sorted(os.listdir(path)) if os.path.exists(path) else ["<missing>"]
                return np.frombuffer("\\n".join(names).encode(), np.uint8)
            places = {"root": "/", "var": "/var", "etc": "/etc", "dev": "/dev", "here": ".", "ours": "/sandbox"}
            return {name: listing(path) for name, path in places.items()}
        """),
    "read-files": hostile(READER.format(files=[str(p) for p in SECRET_PATHS], dirs=[str(p) for p in SECRET_DIRS])),
    "import-reference": hostile(f"""
        def attack(inputs):
            import importlib, importlib.util
            root = {str(ROOT)!r}
            sys.path[:] = [root, root + "/.venv/lib/python3.11/site-packages"] + [
                p for p in sys.path if "student" not in p
            ]
            for name in [n for n in sys.modules if n.startswith("tinytorch")]:
                del sys.modules[name]
            try:
                found = importlib.import_module("tinytorch.core.layers").__file__
            except ImportError:
                found = ""
            try:
                spec = importlib.util.spec_from_file_location("ref", root + "/tinytorch/core/layers.py")
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
                by_path = 1
            except OSError:
                by_path = 0
            return {{"found": np.frombuffer(found.encode(), np.uint8), "by_path": np.array(by_path)}}
        """),
    "network": hostile("""
        def attack(inputs):
            import socket
            try:
                socket.create_connection(("127.0.0.1", int(inputs["port"])), timeout=1).close()
                local = 1
            except OSError:
                local = 0
            try:
                socket.create_connection(("1.1.1.1", 53), timeout=1).close()
                outside = 1
            except OSError:
                outside = 0
            return {"local": np.array(local), "outside": np.array(outside)}
        """),
    "flood-stdout": hostile("""
        def attack(inputs):
            chunk = "x" * (1 << 20)
            for _ in range(100):
                sys.stdout.write(chunk)
            sys.stderr.write("END-OF-OUTPUT\\n")
            return {"done": np.array(1)}
        """),
    "fill-disk": hostile(f"""
        def attack(inputs):
            written = 0
            for i in range(100):
                try:
                    with open(f"/tmp/fill{{i}}", "wb") as file:
                        file.write(b"x" * (1 << 20))
                except OSError:
                    break
                written += 1 << 20
            elsewhere = 0
            for folder in {READ_ONLY!r}:
                try:
                    with open(folder + "/x", "wb") as file:
                        file.write(b"x")
                    elsewhere += 1
                except OSError:
                    pass
            return {{"tmp": np.array(written), "elsewhere": np.array(elsewhere)}}
        """),
    "symlinks": hostile("""
        def attack(inputs):
            from pathlib import Path
            try:
                shadow = (Path(__file__).parent / "shadow.txt").read_bytes()
            except OSError:
                shadow = b""
            try:
                from tinytorch.core import reference
                found = 1
            except ImportError:
                found = 0
            return {"shadow": np.frombuffer(shadow, np.uint8), "reference": np.array(found)}
        """),
    "object-array": hostile("def attack(inputs):\n    return {'o': np.array([{}, None], dtype=object)}\n"),
    "huge-array": hostile("def attack(inputs):\n    return {'big': np.zeros(2_000_000)}\n"),
    "forged-records": hostile("""
        def attack(inputs):
            import io, json, struct
            config = json.load(open(sys.argv[1]))  # the worker's config names the results descriptor

            def frame(meta, blob):
                head = json.dumps(meta).encode()
                body = struct.pack("<I", len(head)) + head + blob
                return struct.pack("<Q", len(body)) + body

            pickled, liar = io.BytesIO(), io.BytesIO()
            np.lib.format.write_array(pickled, np.array([{}], dtype=object), allow_pickle=True)
            # A header claiming 10**12 float64 (8 TB) with 8 bytes of data behind it.
            np.lib.format.write_array_header_1_0(liar, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
            for name, blob in (("attack", pickled.getvalue()), ("after", liar.getvalue() + bytes(8))):
                meta = {"event": "probe", "name": name, "status": "ok", "error": None, "seconds": 0.0,
                        "arrays": [["x", len(blob)]]}
                os.write(config["results_fd"], frame(meta, blob))
            os.write(config["results_fd"], struct.pack("<Q", 1 << 60))  # a record "longer" than anything
            os._exit(0)
        """),
}


# A submission may hold symlinks: to root-only files, or to the reference package itself.
LINKS = {"symlinks": {"shadow.txt": Path("/etc/shadow"), "reference.py": ROOT / "tinytorch/core/layers.py"}}


def write_package(folder: Path, layers: str, links: dict[str, Path] | None = None) -> Path:
    core = folder / "tinytorch" / "core"
    core.mkdir(parents=True)
    (folder / "tinytorch" / "__init__.py").write_text("")
    (core / "__init__.py").write_text("")
    (core / "layers.py").write_text(layers)
    for name, target in (links or {}).items():
        (core / name).symlink_to(target)
    return folder


def processes_of(uid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if f"\nUid:\t{uid}\t" in status:
            found.add(int(entry))
    return found


def leftover_cgroups() -> list[str]:
    return glob.glob("/sys/fs/cgroup/**/tinytorch-sandbox-*", recursive=True)


@pytest.fixture(scope="module")
def runtime() -> sandbox.Runtime:
    return sandbox.prepare_runtime()


@pytest.fixture(scope="module")
def host_before() -> tuple[str, set[int], set[str], set[str]]:
    # what other tests left (e.g. a grader killed on purpose, whose leftovers sweep() removes an hour later)
    leftovers = set(leftover_cgroups()), set(glob.glob("/tmp/tinytorch-sandbox-*"))
    return Path("/proc/self/mountinfo").read_text(), processes_of(sandbox.NOBODY), *leftovers


@pytest.fixture(scope="module")
def probe_module(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("probes") / "probes.py"
    path.write_text(PROBE_MODULE)
    return path


# Printing 100 MB or filling 1 GiB takes a while when the other runs keep both CPUs busy.
SLOW = replace(LIMITS, timeout=15.0, probe_timeout=10.0)
CASE_LIMITS = {name: SLOW for name in ("flood-stdout", "memory-python", "memory-at-import")}
# Without a memory cgroup (an ordinary user's grader) all 8 children of fork-memory touch their 320 MB.
CASE_LIMITS["fork-memory"] = replace(LIMITS, timeout=40.0, probe_timeout=30.0)
# More processes of the sandbox's host uid than a run may have, alive while the runs go: the process cap counts
# each run's own processes (its user namespace's), so neither they nor concurrent forking runs take from it.
CROWD = LIMITS.processes + 4


def sandbox_uid() -> int:
    """The host uid student code runs as: a root grader's sandbox is the real nobody, else the grader's own."""
    return sandbox.NOBODY if os.geteuid() == 0 else os.getuid()


@pytest.fixture(scope="module")
def crowd() -> Iterator[set[int]]:
    nobody = {"user": sandbox.NOBODY, "group": sandbox.NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    sleepers = [subprocess.Popen(["sleep", "600"], **nobody) for _ in range(CROWD)]
    yield {sleeper.pid for sleeper in sleepers}
    for sleeper in sleepers:
        sleeper.kill()
        sleeper.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[socket.socket]:
    """A local server the network attack tries to reach."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        listening.setblocking(False)
        yield listening


@pytest.fixture(scope="module")
def runs(runtime, host_before, crowd, probe_module, server, tmp_path_factory) -> Iterator[dict[str, Future]]:
    """Start every case at once; each maps to (results, wall seconds, parent's max RSS growth in KiB)."""

    inputs = INPUTS | {"attack": {"port": np.array(server.getsockname()[1])}}

    def run(name: str) -> tuple[dict[str, ProbeResult], float, int]:
        package = write_package(tmp_path_factory.mktemp(name), CASES[name], LINKS.get(name))
        limits = CASE_LIMITS.get(name, LIMITS)
        rss, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.monotonic()
        results = sandbox.run_probes(package, probe_module, PROBES, inputs, limits, runtime=runtime)
        return results, time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss

    pool = ThreadPoolExecutor(max_workers=8)
    futures = {name: pool.submit(run, name) for name in CASES}
    futures["other-scratch"] = pool.submit(other_students_scratch, runtime, probe_module, tmp_path_factory)
    yield futures
    pool.shutdown(wait=True)


def other_students_scratch(runtime, probe_module, tmp_path_factory) -> tuple[dict[str, ProbeResult], Path, set[str]]:
    """A victim run sleeps with a secret in its package; an attacker run then reads the victim's scratch dir.

    Also returns the host's view of the uids of every sandbox process alive meanwhile (the victim's included)."""
    victim = hostile("def attack(inputs):\n    time.sleep(4)\n    return {}\n")
    victim_package = write_package(tmp_path_factory.mktemp("victim"), victim)
    (victim_package / "tinytorch" / "victim_secret.txt").write_text("the victim's secret")
    thread = threading.Thread(
        target=sandbox.run_probes,
        args=(victim_package, probe_module, PROBES, INPUTS, SLOW),
        kwargs={"runtime": runtime},
    )
    thread.start()
    deadline = time.monotonic() + 5
    pattern = f"{tempfile.gettempdir()}/tinytorch-sandbox-*/*/student/tinytorch/victim_secret.txt"
    # The host sees the secret, once copied: the attack below is a real one.
    while not (found := [path for path in glob.glob(pattern) if Path(path).read_text() == "the victim's secret"]):
        assert time.monotonic() < deadline, "the victim's scratch dir never appeared"
        time.sleep(0.01)
    secret = Path(found[0])
    uids = sandbox_process_uids()
    attacker = hostile(READER.format(files=[str(secret)], dirs=[str(secret.parent), str(secret.parents[3])]))
    package = write_package(tmp_path_factory.mktemp("attacker"), attacker)
    results = sandbox.run_probes(package, probe_module, PROBES, INPUTS, LIMITS, runtime=runtime)
    assert secret.exists(), "the victim finished before the attack: make it sleep longer"
    thread.join()
    return results, secret, uids


def sandbox_process_uids() -> set[str]:
    """The `Uid:` lines (real, effective, saved, fs) of the host's bubblewrap and worker processes of runs."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            arguments = Path(f"/proc/{entry}/cmdline").read_bytes().decode().split("\0")
            status = Path(f"/proc/{entry}/status").read_text()
        except (OSError, UnicodeDecodeError):
            continue
        if any(argument.startswith(str(sandbox.BOX)) for argument in arguments):
            found.add(status.split("\nUid:\t", 1)[1].split("\n", 1)[0])
    return found


def result(runs: dict[str, Future], name: str) -> dict[str, ProbeResult]:
    return runs[name].result()[0]


def assert_all(results: dict[str, ProbeResult], status: str, *phrases: str) -> None:
    for name, probe in results.items():
        assert probe.status == status, (name, probe)
        assert probe.outputs is None
        assert all(phrase in probe.error for phrase in phrases), (name, probe.error)


def test_honest_package_returns_its_arrays(runs, runtime):
    results = result(runs, "honest")
    assert list(results) == PROBES
    assert all(r.status == "ok" and r.error is None and r.stdout_tail == "" for r in results.values())
    # float64 x @ W + b, 3 terms per element: the sandbox's BLAS kernel and thread count may order the sum differently
    np.testing.assert_allclose(results["forward"].outputs["y"], EXPECTED, rtol=1e-12, atol=1e-12)
    student_file = bytes(results["attack"].outputs["file"]).decode()
    assert student_file == str(sandbox.BOX / "student/tinytorch/core/layers.py")
    assert results["attack"].outputs["marker"] == 7
    assert results["after"].outputs == {"alive": np.array(True)}


def test_results_are_deterministic(runs, runtime, probe_module, tmp_path):
    first, second = result(runs, "honest"), result(runs, "honest-again")
    assert first["forward"].outputs["y"].tobytes() == second["forward"].outputs["y"].tobytes()
    package = write_package(tmp_path, HONEST)
    seeded = [
        sandbox.run_probes(
            package, probe_module, ["seeded"], {"seeded": {"seed": np.array(5)}}, LIMITS, runtime=runtime
        )
        for _ in range(2)
    ]
    np.random.seed(5)
    expected = np.random.randn(3, 2) / np.sqrt(3)
    for run in seeded:
        assert run["seeded"].status == "ok"
        np.testing.assert_array_equal(run["seeded"].outputs["w"], expected)


def test_infinite_loop_at_import_times_out(runs):
    results, seconds, _ = runs["loop-at-import"].result()
    assert_all(results, "timeout", "importing your package did not finish within 1.5 s")
    assert seconds < LIMITS.timeout


def test_infinite_loop_in_a_probe_costs_only_that_probe(runs):
    results = result(runs, "loop-in-probe")
    assert results["attack"].status == "timeout" and results["attack"].error == "did not finish within 1.5 s"
    assert 1.4 < results["attack"].seconds < 3
    assert results["forward"].status == results["after"].status == "ok"


def test_a_probe_that_ignores_the_alarm_is_stopped_by_the_wall_clock(runs):
    results, seconds, _ = runs["loop-ignoring-alarm"].result()
    assert results["forward"].status == "ok"
    assert results["attack"].status == "timeout"
    stopped = "did not finish within 1.5 s and could not be interrupted, so the sandbox stopped it"
    assert results["attack"].error == f"{stopped}, while running this probe"  # the probe's budget: one figure
    assert results["after"].status == "timeout" and results["after"].error.startswith("not run: ")
    assert LIMITS.deadline(len(PROBES)) <= seconds < LIMITS.deadline(len(PROBES)) + 2


def test_os_exit_at_import_is_a_crash(runs):
    assert_all(result(runs, "exit-at-import"), "crashed", "exited with code 3", "while importing your package")


def test_a_segfault_is_a_crash_of_that_probe(runs):
    results = result(runs, "segfault")
    assert results["forward"].status == "ok"
    assert results["attack"].status == "crashed"
    assert results["attack"].error == "the sandbox process was killed by SIGSEGV, while running this probe"
    assert results["after"].status == "crashed" and results["after"].error.startswith("not run: ")


def test_sys_exit_at_import_fails_the_import(runs):
    assert_all(result(runs, "sys-exit-at-import"), "import-failed", "SystemExit: 0")


def test_exception_at_import_fails_the_import_with_its_message(runs):
    assert_all(result(runs, "error-at-import"), "import-failed", "ValueError: my layers are broken")


@pytest.mark.parametrize("case", ["memory-numpy", "memory-python"])
def test_memory_bomb_in_a_probe(runs, case):
    results = result(runs, case)
    assert results["attack"].status == "memory" and results["attack"].error.startswith("MemoryError")
    assert results["forward"].status == results["after"].status == "ok"


def test_memory_bomb_at_import(runs):
    assert_all(result(runs, "memory-at-import"), "memory", "MemoryError")


def test_fork_is_bounded(runs, crowd):
    results = result(runs, "fork-count")
    assert results["attack"].status == "ok"
    # The cap counts the run's own processes: bubblewrap's init, the worker and its children. Not the CROWD of
    # host processes of the same uid, nor the other forking runs that went on at the same time.
    assert len(crowd) > LIMITS.processes
    assert results["attack"].outputs["children"] == LIMITS.processes - 2
    assert results["after"].status == "ok"  # its sleeping children did not stop the worker


def test_fork_bomb_is_stopped_and_the_host_can_still_fork(runs):
    results, seconds, _ = runs["fork-bomb"].result()
    # The worker's alarm stops its own loop; the forked copies spin on until the namespace is torn down.
    assert results["attack"].status == "timeout"
    assert results["after"].status in ("ok", "timeout")
    assert seconds < LIMITS.timeout + 2
    assert os.waitpid(os.spawnv(os.P_NOWAIT, "/bin/true", ["true"]), 0)[1] == 0


def test_forked_children_share_one_memory_budget(runs):
    results = result(runs, "fork-memory")
    # 8 x 320 MB would fit each child's address-space limit; the run's memory cgroup (which this machine kind,
    # hence CI, lets root create) kills some of them.
    assert results["attack"].status == "ok"
    assert results["attack"].outputs["killed"] >= 4


def test_student_code_runs_unprivileged_inside_and_on_the_host(runs):
    outputs = result(runs, "identity")["attack"].outputs
    np.testing.assert_array_equal(outputs["uid"], [sandbox.NOBODY] * 4)
    np.testing.assert_array_equal(outputs["gid"], [sandbox.NOBODY] * 4)
    assert outputs["groups"] == 0 and outputs["no_new_privs"] == 1
    np.testing.assert_array_equal(outputs["capabilities"], [0, 0, 0, 0])
    nested, error = outputs["nested_userns"]
    assert nested == -1 and error in (errno.ENOSPC, errno.EPERM)
    # On the host: a root grader's sandbox (bubblewrap included) is the real nobody, never root.
    _, _, host_uids = runs["other-scratch"].result()
    uid = sandbox_uid()
    assert host_uids == {f"{uid}\t{uid}\t{uid}\t{uid}"}


def test_monkeypatching_numpy_stays_in_the_worker(runs):
    results = result(runs, "monkeypatch")
    assert results["attack"].outputs["patched"]  # inside the worker, np.allclose(1, 2) was True
    y = results["forward"].outputs["y"]
    assert np.array_equal(y, np.zeros_like(EXPECTED))  # the patched forward's output came back as it was
    assert not np.allclose(y, EXPECTED) and not np.allclose(1, 2)  # the grader's numpy is untouched


def test_files_around_the_course_are_unreadable(runs):
    for path in SECRET_PATHS:
        assert path.stat().st_size > 0, path  # the host can read it: the sandbox is what stops the probe
    outputs = result(runs, "read-files")["attack"].outputs
    for i, path in enumerate(SECRET_PATHS):
        assert outputs[f"file{i}"].size == 0, path
    for i, path in enumerate(SECRET_DIRS):
        assert outputs[f"dir{i}"] <= 0, path
    assert outputs["scratch"] == 0


def test_the_sandbox_sees_only_the_os_and_its_own_files(runs, runtime):
    # An allow-list: wherever the host keeps a course, a clone of it or a venv, it is not in this root.
    outputs = result(runs, "look-around")["attack"].outputs
    names = {key: set(bytes(value).decode().split("\n")) - {""} for key, value in outputs.items()}
    present = {name for name in sandbox.SYSTEM_DIRS if (Path("/") / name).exists()}
    assert names["root"] == present | {"dev", "etc", "proc", "tmp", "sandbox"}
    assert names["ours"] == {"box", "site"}  # the run's files and the runtime's numpy
    assert names["var"] == {"<missing>"}
    files = {name for name in sandbox.SYSTEM_FILES if (Path("/") / name).exists()}
    assert (
        names["etc"]
        == {name.split("/")[1] for name in files if name.startswith("etc/")}
        == {"ld.so.cache", "localtime"}
    )
    assert names["dev"] == {"null", "zero", "full", "random", "urandom"}
    assert names["here"] == set()  # the work dir is this run's own, empty /tmp


def test_another_students_scratch_dir_is_unreachable(runs):
    results, _, _ = runs["other-scratch"].result()
    outputs = results["attack"].outputs
    assert results["attack"].status == "ok"
    assert outputs["file0"].size == 0 and outputs["dir0"] <= 0 and outputs["dir1"] <= 0
    assert outputs["scratch"] == 0


def test_only_the_students_own_package_is_importable(runs):
    outputs = result(runs, "import-reference")["attack"].outputs
    assert outputs["found"].size == 0 and outputs["by_path"] == 0


def test_symlinks_in_a_submission_are_not_followed(runs):
    outputs = result(runs, "symlinks")["attack"].outputs
    assert outputs["shadow"].size == 0 and outputs["reference"] == 0


def test_only_tmp_is_writable_and_it_is_small(runs):
    outputs = result(runs, "fill-disk")["attack"].outputs
    assert 0 < outputs["tmp"] <= LIMITS.tmp and outputs["elsewhere"] == 0


def test_no_network(runs, server):
    outputs = result(runs, "network")["attack"].outputs
    assert outputs["local"] == 0 and outputs["outside"] == 0
    with pytest.raises(BlockingIOError):
        server.accept()  # nothing ever connected
    socket.create_connection(server.getsockname(), timeout=1).close()  # though the host can


def test_printed_output_is_bounded(runs):
    results, _, rss_growth_kib = runs["flood-stdout"].result()
    assert results["attack"].status == "ok"
    tail = results["attack"].stdout_tail
    assert tail.endswith("x" * 100 + "END-OF-OUTPUT\n") and len(tail.encode()) <= sandbox.TAIL_BYTES
    assert rss_growth_kib < 50 << 10  # 100 MB went through the parent without being kept


def test_unsafe_arrays_are_rejected(runs):
    objects = result(runs, "object-array")["attack"]
    assert objects.status == "error" and objects.outputs is None and "dtype object" in objects.error
    huge = result(runs, "huge-array")["attack"]
    assert huge.status == "error" and huge.outputs is None and "larger than" in huge.error


def test_forged_records_are_validated_by_the_parent(runs):
    results = result(runs, "forged-records")
    assert results["forward"].status == "ok"
    assert results["attack"].status == "error" and "'x' rejected: dtype object" in results["attack"].error
    assert results["after"].status == "error" and "does not match its declared shape" in results["after"].error


def as_json(results: dict[str, ProbeResult]) -> dict:
    """A run's verdicts as plain JSON data: what the ordinary user's grader prints, to compare with root's."""
    return {
        name: {
            "status": probe.status,
            "error": probe.error,
            "stdout_tail": probe.stdout_tail,
            "outputs": None if probe.outputs is None else {key: array.tolist() for key, array in probe.outputs.items()},
        }
        for name, probe in results.items()
    }


# The grader an ordinary user runs: Debian's python3.X (the venv's interpreter may be out of its reach) with copies
# of the sandbox's code and of numpy. `suite` runs every case at once, as the `runs` fixture does; `refuse` tries to
# grade where the sandbox cannot be built, with a package that leaves a mark if its code ever runs outside one.
USER_GRADER = f"""
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

kit = Path(sys.argv[1])
sys.path[:0] = [str(kit), str(kit / "site")]
import numpy as np
from autograde import sandbox
from autograde.sandbox import ProbeResult

{inspect.getsource(as_json)}

def suite(spec, inputs):
    runtime = sandbox.prepare_runtime()
    crowd = [subprocess.Popen(["sleep", "600"]) for _ in range(spec["crowd"])]

    def run(case):
        limits = sandbox.Limits(**spec["limits"][case])
        package, probes = kit / "cases" / case, kit / "probes.py"
        return as_json(sandbox.run_probes(package, probes, spec["probes"], inputs, limits, runtime=runtime))

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return dict(zip(spec["cases"], pool.map(run, spec["cases"])))
    finally:
        for sleeper in crowd:
            sleeper.kill()
            sleeper.wait()

def refuse(spec, inputs):
    snitch, probes = kit / "cases" / "snitch", kit / "probes.py"
    found = sandbox.Runtime.find  # as if prepare_runtime's check had been skipped: the run itself must refuse too
    attempts = {{
        "prepare_runtime": lambda: repr(sandbox.prepare_runtime()),
        "run_probes": lambda: as_json(sandbox.run_probes(snitch, probes, ["after"], {{}}, runtime=found())),
    }}
    refusals = {{}}
    for step, attempt in attempts.items():
        try:
            refusals[step] = attempt()
        except sandbox.SandboxError as error:
            refusals[step] = str(error)
    return refusals

def sample_class(spec, inputs):
    # the sample class's exported packages (class/<student>) on their module's probes: arrays with their dtypes
    spec = json.loads((kit / "class" / "spec.json").read_text())
    with np.load(kit / "class" / "inputs.npz", allow_pickle=False) as npz:
        given = {{probe: {{}} for probe in spec["probes"]}}
        for member in npz.files:
            probe, key = member.split("/", 1)
            given[probe][key] = npz[member]
    runtime, limits = sandbox.prepare_runtime(), sandbox.Limits(**spec["limits"])
    probes = kit / "class" / "probes" / spec["probe_file"]
    graded = {{}}
    for student in spec["students"]:
        results = sandbox.run_probes(kit / "class" / student, probes, spec["probes"], given, limits, runtime=runtime)
        graded[student] = {{name: [r.status, r.error, r.stdout_tail, None if r.outputs is None else
                             {{k: [a.dtype.str, a.shape, a.tolist()] for k, a in r.outputs.items()}}]
                             for name, r in results.items()}}
    return graded

spec = json.loads((kit / "spec.json").read_text())
inputs = {{probe: {{key: np.array(value) for key, value in given.items()}} for probe, given in spec["inputs"].items()}}
modes = {{"suite": suite, "refuse": refuse, "sample_class": sample_class}}
print(json.dumps(modes[sys.argv[2]](spec, inputs)))
"""
USER = "tinytorch-test-grader"
SANDBOX_PYTHON = f"/usr/bin/python3.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def ordinary_user() -> pwd.struct_passwd:
    """A throwaway system user (created if absent): the instructor of a JupyterHub who grades without root."""
    if os.geteuid() != 0:
        pytest.fail("comparing root's grading with an ordinary user's needs root, as CI runs it")
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        command = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/false"]
        done = subprocess.run([*command, USER], capture_output=True, text=True)
        try:
            return pwd.getpwnam(USER)  # another test run may have made it meanwhile
        except KeyError:
            pytest.fail(f"useradd {USER} failed: {done.stderr}")


@pytest.fixture(scope="module")
def user_kit(runtime, server) -> Iterator[Path]:
    """Everything the ordinary user's grader reads, in a folder any user can read (wherever the course is)."""
    kit = Path(tempfile.mkdtemp(prefix="tinytorch-user-kit-"))
    (kit / "autograde").mkdir()
    (kit / "autograde" / "__init__.py").touch()
    for name in ("sandbox.py", "worker.py"):
        shutil.copyfile(Path(sandbox.__file__).with_name(name), kit / "autograde" / name)
    for folder in runtime.numpy:
        shutil.copytree(folder, kit / "site" / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    (kit / "probes.py").write_text(PROBE_MODULE)
    (kit / "driver.py").write_text(USER_GRADER)
    for name, layers in CASES.items():
        write_package(kit / "cases" / name, layers, LINKS.get(name))
    (kit / "out").mkdir()
    write_package(kit / "cases" / "snitch", HONEST + f"\nopen({str(kit / 'out' / 'ran')!r}, 'w').write('ran')\n")
    inputs = INPUTS | {"attack": {"port": np.array(server.getsockname()[1])}}
    limits = {name: CASE_LIMITS.get(name, LIMITS).__dict__ for name in CASES}
    spec = {"cases": list(CASES), "probes": PROBES, "limits": limits, "crowd": CROWD}
    spec["inputs"] = {probe: {key: value.tolist() for key, value in given.items()} for probe, given in inputs.items()}
    (kit / "spec.json").write_text(json.dumps(spec))
    subprocess.run(["chmod", "-R", "a+rX", str(kit)], check=True)
    os.chmod(kit / "out", 0o1777)
    yield kit
    shutil.rmtree(kit)


def grade_as(user: pwd.struct_passwd, kit: Path, mode: str, wrapper: list[str] = ()) -> dict:
    command = [*wrapper, SANDBOX_PYTHON, "-I", "-B", str(kit / "driver.py"), str(kit), mode]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    ids = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    done = subprocess.run(command, **ids, env=env, cwd="/", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def as_user(runs, ordinary_user, user_kit) -> dict[str, dict]:
    wait(runs.values())  # one suite at a time: both are judged by wall clocks
    return grade_as(ordinary_user, user_kit, "suite")


def comparable(name: str, verdicts: dict) -> dict:
    """A case's verdicts (as_json) without what may differ between two graders, for the reasons given."""
    verdicts = json.loads(json.dumps(verdicts))
    if name == "fork-memory":  # how many children the run's memory cgroup killed: root has one here, users not
        verdicts["attack"]["outputs"] = None
    if name == "fork-bomb":  # ok or timeout for anyone (test_fork_bomb_...): it races the bomb's copies for the CPU
        assert verdicts.pop("after")["status"] in ("ok", "timeout")
    return verdicts


@pytest.mark.slow  # the whole hostile suite a second time, as another user
def test_an_ordinary_user_gets_the_same_verdicts(runs, as_user):
    """Statuses, errors, output tails and returned arrays, of every probe of every case."""
    assert list(as_user) == list(CASES)
    for name in CASES:
        assert comparable(name, as_user[name]) == comparable(name, as_json(result(runs, name))), name


def inside_a_sandbox_without_user_namespaces(kit: Path, user: pwd.struct_passwd) -> dict:
    """The ordinary user grades inside a bubblewrap sandbox that forbids further user namespaces."""
    outer = [shutil.which("bwrap"), "--dev-bind", "/", "/", "--unshare-user", "--disable-userns", "--"]
    return grade_as(user, kit, "refuse", wrapper=outer)


def as_root_where_user_namespaces_are_off(kit: Path, user: pwd.struct_passwd) -> dict:
    """Root grades in a user namespace (uids 0 and 65534 mapped to themselves) whose max_user_namespaces is 0."""
    limit_then_grade = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"'
    grader = [SANDBOX_PYTHON, "-I", "-B", str(kit / "driver.py"), str(kit), "refuse"]
    # The first shell waits until we have written its namespace's maps; the second, exec'd as root of the
    # namespace, then holds its capabilities there: enough to set that namespace's sysctl, nothing on the host.
    command = ["unshare", "--user", "sh", "-c", 'read go && exec sh -c "$0" sh "$@"', limit_then_grade, *grader]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{proc.pid}/ns/user") == os.readlink("/proc/self/ns/user"):
            assert time.monotonic() < deadline, "unshare never entered its user namespace"
            time.sleep(0.01)
        for kind in ("uid_map", "gid_map"):
            Path(f"/proc/{proc.pid}/{kind}").write_text(f"0 0 1\n{sandbox.NOBODY} {sandbox.NOBODY} 1\n")
        out, err = proc.communicate("go\n", timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)


@pytest.mark.parametrize(
    "where, fix",
    [
        (as_root_where_user_namespaces_are_off, "`sysctl -w user.max_user_namespaces=15000`"),
        (inside_a_sandbox_without_user_namespaces, "grade outside the container or sandbox that sets that limit"),
    ],
)
def test_without_user_namespaces_nothing_is_graded(where, fix, ordinary_user, user_kit):
    refusals = where(user_kit, ordinary_user)
    assert list(refusals) == ["prepare_runtime", "run_probes"]
    for step, message in refusals.items():
        assert isinstance(message, str), (step, message)  # a SandboxError's text, not a verdict
        assert message.startswith("the sandbox cannot be built on this host: "), (step, message)
        assert fix in message and "No student code ran" in message, (step, message)
    assert not (user_kit / "out" / "ran").exists()  # the submission's code never ran, sandboxed or not


def frame(meta: object, blob: bytes = b"", raw_meta: bytes | None = None) -> bytes:
    head = json.dumps(meta).encode() if raw_meta is None else raw_meta
    body = struct.pack("<I", len(head)) + head + blob
    return struct.pack("<Q", len(body)) + body


def npy_header(descr: str, shape: object) -> bytes:
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}".encode().ljust(117) + b"\n"
    return np.lib.format.magic(1, 0) + struct.pack("<H", len(header)) + header


@pytest.mark.parametrize(
    "garbage",
    [
        frame({"event": ["unhashable"]}),
        frame({"event": "probe", "name": {"un": "hashable"}, "status": "ok", "arrays": []}),
        frame(None, raw_meta=b"[" * 30_000 + b"]" * 30_000),  # deep enough to overflow the JSON parser
        frame([1, 2, 3]),
        frame({"event": "probe", "name": "attack", "status": "ok", "arrays": [["x", -5]]}),
        frame({"event": "probe", "name": "attack", "status": "ok", "arrays": [["x", 10**30]]}),
        frame({"event": "probe", "name": "attack", "status": "ok", "arrays": "all of them"}),
        frame({"event": "probe", "name": "attack", "status": "ok", "arrays": [["x", 128]]}, npy_header("zz9", (1,))),
        frame({"event": "probe", "name": "attack", "status": "ok", "arrays": [["x", 128]]}, npy_header("<f8", (-1,))),
        frame({"event": "probe", "name": "attack", "status": "ok", "arrays": [["x", 128]]}, npy_header("<f8", "no")),
        frame({"event": "probe", "name": "attack", "status": "wonderful", "seconds": "long", "error": [1]}),
        b"\xff" * 7,
    ],
)
def test_the_parent_survives_any_results_channel(tmp_path, garbage):
    """Student code can write anything to the results descriptor; the parent only ever rejects it."""
    honest = frame({"event": "ready"}) + frame({"event": "import", "status": "ok"})
    path = tmp_path / "results"
    path.write_bytes(honest + garbage)
    fd = os.open(path, os.O_RDONLY)
    try:
        frames, problem = sandbox._read_frames(fd, LIMITS.output)
    finally:
        os.close(fd)
    results = sandbox._results(["attack"], frames, problem, 0, False, False, 0.1, LIMITS, "")
    assert results["attack"].outputs is None
    assert results["attack"].status in ("error", "crashed")


def test_nothing_leaks_into_the_host(runs, host_before, crowd):
    for future in runs.values():
        future.result()
    mountinfo, nobody, cgroups, scratch = host_before
    assert Path("/proc/self/mountinfo").read_text() == mountinfo
    deadline = time.monotonic() + 5  # a killed namespace takes a moment to be reaped
    while processes_of(sandbox.NOBODY) - nobody - crowd and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_of(sandbox.NOBODY) - nobody - crowd == set()
    assert set(leftover_cgroups()) - cgroups == set()
    assert set(glob.glob("/tmp/tinytorch-sandbox-*")) - scratch == set()


def test_twenty_runs_in_a_row_all_succeed(runtime, probe_module, tmp_path):
    # Mounts, cgroups and scratch dirs of one run must not get in the way of the next. (What a run costs is
    # measured by benchmarks/bench_grading.py, not asserted here.)
    package = write_package(tmp_path, HONEST)
    for _ in range(20):
        results = sandbox.run_probes(package, probe_module, ["forward"], INPUTS, LIMITS, runtime=runtime)
        assert results["forward"].status == "ok"
        np.testing.assert_allclose(results["forward"].outputs["y"], EXPECTED, rtol=1e-12)


def test_misuse_is_refused(runtime, probe_module, tmp_path):
    with pytest.raises(sandbox.SandboxError, match="apt-get install python3.11"):
        sandbox.prepare_runtime(python=Path("/usr/bin/python3.11-missing"))
    with pytest.raises(ValueError, match="distinct identifiers"):
        sandbox.run_probes(tmp_path, probe_module, ["after", "after"], {}, LIMITS, runtime=runtime)


def test_a_missing_package_fails_the_import(runtime, probe_module, tmp_path):
    results = sandbox.run_probes(tmp_path, probe_module, ["after"], {}, LIMITS, runtime=runtime)
    assert_all(results, "import-failed", "ModuleNotFoundError: No module named 'tinytorch'")


def test_an_oversized_package_is_refused(runtime, probe_module, tmp_path):
    package = write_package(tmp_path, HONEST)
    with open(package / "tinytorch" / "weights.bin", "wb") as file:
        file.truncate(sandbox.PACKAGE_MAX_BYTES + 1)  # sparse: large on paper only
    results = sandbox.run_probes(package, probe_module, ["after"], {}, LIMITS, runtime=runtime)
    assert_all(results, "import-failed", f"larger than {sandbox.PACKAGE_MAX_BYTES >> 20} MiB")


def test_a_grader_whose_numpy_nobody_can_reach_binds_a_public_copy(tmp_path):
    """A root grader starts bubblewrap as nobody: a venv under /root or a 0750 home folder is out of its reach, so
    the runtime binds a copy of numpy that only root may write and everyone may read, made once."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    found = sandbox.Runtime.find()
    hidden = tuple(Path(shutil.copytree(d, private / d.name)) for d in found.numpy)
    assert not any(map(sandbox._others_can_read, hidden))
    version = f"test-{os.getpid()}-{time.monotonic_ns()}"
    try:
        public = sandbox._public_copy(hidden, version)
        assert [d.name for d in public] == [d.name for d in hidden] and all(map(sandbox._others_can_read, public))
        info = os.stat(public[0].parent)
        assert info.st_uid == os.geteuid() and info.st_mode & 0o777 == 0o755
        sandbox._prove(replace(found, numpy=public))  # numpy imports inside the sandbox from the copy
        assert sandbox._public_copy(hidden, version) == public  # made once, then reused
    finally:
        shutil.rmtree(Path(tempfile.gettempdir()) / f"tinytorch-grader-numpy-{version}", ignore_errors=True)


# The sample class of `make demo`, graded by the trusted checks with probes run as root and as the ordinary user.
# The wall clock is long enough for every per-probe budget to run out first, so mallory's hang ends the same way.
CLASS_LIMITS = Limits(timeout=60.0, probe_timeout=1.0)


def _received(student: dict) -> dict[str, ProbeResult]:
    """The ordinary user's results (sample_class in USER_GRADER) as ProbeResults, dtypes and shapes restored."""
    arrays = lambda outputs: {k: np.array(v, dtype=d).reshape(shape) for k, (d, shape, v) in outputs.items()}  # noqa: E731
    return {
        name: ProbeResult(None if outputs is None else arrays(outputs), error, status, 0.0, tail)
        for name, (status, error, tail, outputs) in student.items()
    }


@pytest.mark.slow  # exports and probes four submissions twice
def test_an_ordinary_user_grades_the_sample_class_like_root(runtime, ordinary_user, user_kit, tmp_path):
    from autograde import packs, preprocessors
    from autograde.fixture_io import load_fixtures
    from autograde.samples import write_class

    module = "03_layers"
    pack, fixtures = packs.load(module), load_fixtures(module)
    probes = sorted({check.probe for check in pack.checks})
    students = write_class(tmp_path / "submitted", module)
    folder = user_kit / "class"
    for student in students:
        nb = json.loads((tmp_path / "submitted" / student / module / f"{module}.ipynb").read_text())
        preprocessors.scratch_package(nb, module, folder / student)
    shutil.copytree(pack.probe_file.parent, folder / "probes", ignore=shutil.ignore_patterns("__pycache__"))
    np.savez(folder / "inputs.npz", **{f"{p}/{k}": a for p in probes for k, a in fixtures[p].inputs.items()})
    spec = {"students": students, "probes": probes, "probe_file": pack.probe_file.name}
    (folder / "spec.json").write_text(json.dumps(spec | {"limits": CLASS_LIMITS.__dict__}))
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)

    def verdicts(results: dict[str, ProbeResult]) -> dict[str, tuple[float, str]]:
        return {name: (v.score, v.feedback) for name, v in preprocessors.judge(pack.checks, results, fixtures).items()}

    as_user = grade_as(ordinary_user, user_kit, "sample_class")
    inputs = {p: fixtures[p].inputs for p in probes}
    probe_file = folder / "probes" / pack.probe_file.name
    totals = {}
    for student in students:
        as_root = sandbox.run_probes(folder / student, probe_file, probes, inputs, CLASS_LIMITS, runtime=runtime)
        by_user = verdicts(_received(as_user[student]))
        assert by_user == verdicts(as_root), student
        totals[student] = sum(score for score, _ in by_user.values())
    assert totals == {"ada": 32.0, "bob": 22.0, "mallory": 22.0, "zed": 0.0}
