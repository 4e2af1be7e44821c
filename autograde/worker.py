"""The program the sandbox runs: imports the student's package through a probe module and runs the probes.

Started by `autograde.sandbox` as `python3.11 -I -S -B worker.py config.json`, as uid 65534 of the fresh user,
mount, pid and net namespaces bubblewrap built. Its first act is to set the run's per-process limits (inherited by
everything the student's code starts). Uses the standard library and NumPy only. Everything it reports goes to one
channel, an inherited file descriptor, as a sequence of frames:

    u64 length of the rest | u32 length of meta | meta (UTF-8 JSON) | the .npy blobs listed in meta["arrays"]

Events, in order: {"event": "ready"} (set up, no student code run yet), {"event": "import", "status", "error",
"seconds", "where"}, one {"event": "probe", "name", "status", "error", "seconds", "where", "arrays": [[key, nbytes],
...]} per probe, then {"event": "done"}. Each frame is written as soon as it is known, so a crash later keeps what came
before. `where` lists the innermost frames of the student's package that an exception or a timeout passed through,
[[file relative to the package's folder, line, function], ...], innermost last: the grader maps them to notebook cells.

Student code runs in this same process and can forge or garble anything here; that is fine, because the grader
validates every frame and judges only the arrays (which the student's code could have produced anyway).
Never print a traceback: probe and worker source must not reach the student-visible output.
"""

import importlib
import io
import json
import os
import resource
import signal
import struct
import sys
import time
import zlib

# Bound before any student code runs, so that patching these modules later cannot redirect our own reporting.
_write = os.write
_exit = os._exit
_perf = time.perf_counter
_dumps = json.dumps
_pack = struct.pack
_ERROR_CHARS = 300


class ProbeTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that a student's `except Exception` does not swallow it."""


class _Budget:
    """At most `seconds` of wall-clock time for the block (SIGALRM; a C loop is interrupted when it returns)."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def _expire(self, signum, frame):
        raise ProbeTimeout(f"did not finish within {self.seconds:g} s")

    def __enter__(self):
        # Installed afresh each time: the student may have replaced or ignored the handler meanwhile.
        signal.signal(signal.SIGALRM, self._expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        return False


def _describe(exc: BaseException) -> str:
    """'Type: message', truncated; the student's __str__ may itself misbehave, so it gets a short budget."""
    if isinstance(exc, ProbeTimeout):
        return str(exc)
    name = type(exc).__name__
    try:
        with _Budget(1.0):
            text = str(exc)
    except BaseException:
        text = "<the exception's message could not be read>"
    text = f"{name}: {text}" if text else name
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def _where(exc: BaseException, student: str) -> list[list]:
    """The innermost frames of the student's files that `exc` passed through (at most 8), innermost last."""
    frames, tb = [], exc.__traceback__
    try:
        while tb is not None and len(frames) < 10_000:
            code = tb.tb_frame.f_code
            if isinstance(code.co_filename, str) and code.co_filename.startswith(student + os.sep):
                frames.append([code.co_filename[len(student) + 1 :], tb.tb_lineno, code.co_qualname])
            tb = tb.tb_next
    except BaseException:  # a traceback the student's code tampered with: no place to name
        return []
    return frames[-8:]


def _status(exc: BaseException) -> str:
    if isinstance(exc, ProbeTimeout):
        return "timeout"
    return "memory" if isinstance(exc, MemoryError) else "error"


class Channel:
    def __init__(self, fd: int):
        self.fd = fd

    def send(self, meta: dict, blobs: list[bytes] = ()) -> None:
        head = _dumps(meta).encode()
        body = _pack("<I", len(head)) + head + b"".join(blobs)
        data = memoryview(_pack("<Q", len(body)) + body)
        while data:
            data = data[_write(self.fd, data) :]


def _encode(outputs, np, max_bytes: int) -> tuple[list[list], list[bytes]]:
    """The probe's dict of arrays as .npy blobs; only plain numeric/bool arrays, within the output budget."""
    if not isinstance(outputs, dict):
        raise TypeError(f"probe returned {type(outputs).__name__}, not a dict of arrays")
    index, blobs, total = [], [], 0
    for key, value in outputs.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise TypeError(f"output name {key!r} is not a plain string")
        array = np.asarray(value)
        if array.dtype.kind not in "biufc" or array.dtype.fields is not None:
            raise TypeError(f"output {key!r} has dtype {array.dtype}; only numeric and bool arrays are accepted")
        total += array.nbytes
        if total > max_bytes:
            raise ValueError(f"outputs are larger than the {max_bytes} bytes allowed (at {key!r})")
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        blobs.append(buffer.getvalue())
        index.append([key, len(blobs[-1])])
    return index, blobs


def _limit(limits: dict[str, int]) -> None:
    """Soft and hard limits both, so student code cannot raise them again (it has no capabilities). Set here,
    inside the run's user namespace, RLIMIT_NPROC counts this run's processes only (see autograde.sandbox)."""
    for name, value in limits.items():
        kind = getattr(resource, name)
        hard = resource.getrlimit(kind)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))


def main(config: dict, channel: Channel) -> None:
    _limit(config["limits"])
    # Started with -I -S: sys.path is the standard library only. The student's package comes first, then numpy.
    sys.path[:0] = [config["student"], config["site"]]
    sys.path.append(config["grader"])  # our probe package, after everything of the student's
    import numpy as np

    with np.load(config["inputs"], allow_pickle=False) as archive:
        inputs: dict[str, dict] = {name: {} for name in config["probes"]}
        for member in archive.files:
            probe, key = member.split("/", 1)
            inputs[probe][key] = archive[member]
    channel.send({"event": "ready"})  # the sandbox is set up: whatever fails from here on may be the student's

    # The probe module imports the student's tinytorch: any failure here is the student's import failing.
    start = _perf()
    try:
        with _Budget(config["probe_timeout"]):
            probes = importlib.import_module(config["probe_module"])
    except BaseException as exc:
        status = "import-failed" if _status(exc) == "error" else _status(exc)
        error = f"importing your package {_describe(exc)}" if status == "timeout" else _describe(exc)
        where = _where(exc, config["student"])
        channel.send({"event": "import", "status": status, "error": error, "seconds": _perf() - start, "where": where})
        return
    channel.send({"event": "import", "status": "ok", "error": None, "seconds": _perf() - start})

    for name in config["probes"]:
        # Probes that leave NumPy's global random state to the student (dropout masks) draw the same numbers on
        # every run: grading the same submission twice gives the same feedback, word for word.
        np.random.seed(zlib.crc32(name.encode()))
        start = _perf()
        try:
            with _Budget(config["probe_timeout"]):
                index, blobs = _encode(getattr(probes, name)(inputs[name]), np, config["max_output"])
        except BaseException as exc:
            meta = {
                "status": _status(exc),
                "error": _describe(exc),
                "arrays": [],
                "where": _where(exc, config["student"]),
            }
            blobs = []
        else:
            meta = {"status": "ok", "error": None, "arrays": index}
        channel.send({"event": "probe", "name": name, "seconds": _perf() - start, **meta}, blobs)
    channel.send({"event": "done"})


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as file:
        config = json.load(file)
    channel = Channel(config["results_fd"])
    try:
        main(config, channel)
        code = 0
    except BaseException as exc:  # our own failure (or one the student caused): a frame, not a traceback
        try:
            channel.send({"event": "worker-error", "error": _describe(exc)})
        except BaseException:
            pass
        code = 70
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    # Skip atexit handlers and thread joins the student may have left behind.
    _exit(code)
