"""The demo node: a stand-in for the real ``storagenode`` binary.

Tests, ``nodekeeper demo`` and the benchmarks supervise this program the way
the core supervises a real storage node: ``version`` prints the version like
the real binary, ``run`` serves ``GET /api/sno`` and writes storage-node-like
log lines, and options make it misbehave on purpose (crash, hang, fail at
start, fill memory, spin, fork a stubborn child, ignore stop signals, fail a
migration on a full disk). Every option can also be set through an
``NK_DEMO_<OPTION>`` environment variable; a command-line flag wins.

This file must import only the standard library and must stay one file:
``nodekeeper.core.demo.package`` embeds it verbatim (with the version baked into
``DEFAULT_VERSION``) as a self-contained release executable, and it has to
start in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import select
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

DEFAULT_VERSION = "1.0.0"
BUILD_TIMESTAMP = "01 Nov 26 12:00 UTC"
ENV_PREFIX = "NK_DEMO_"
MIGRATION_MARKER = ".nk-demo-migration"
CHILD_LIFETIME = 600.0  # a forked child never outlives a forgotten test by much
MEMORY_RATE = 50 * 1024 * 1024  # bytes per second for --eat-memory
SATELLITE_ID = "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S"

_VERSION = re.compile(r"v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)")
_NUMBER_UNIT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")
_DURATION_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_PAD_OVERHEAD = len('"Pad": "", ')
# Odd 256-bit constant: n * it mod 2**256 gives every line a distinct, random-looking piece id.
_PIECE_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC8341082276BF3A27251F86C6A11D0C18E95
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class DemoUsageError(ValueError):
    """A bad option or environment variable; reported in one line, exit code 2."""


# --- option values (pure) ------------------------------------------------------


def parse_version_string(text: str) -> str:
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a version {text!r} (use e.g. 1.2.3)")
    return match.group(1)


def parse_duration(text: str) -> float:
    """Seconds from ``"2.5"``, ``"500ms"``, ``"3s"``, ``"1m"`` or ``"1h"``."""
    match = _NUMBER_UNIT.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _DURATION_UNITS:
        raise ValueError(f"not a duration {text!r} (use e.g. 2.5, 500ms, 3s, 1m)")
    return float(match.group(1)) * _DURATION_UNITS[unit]


def parse_size(text: str) -> int:
    """Bytes from ``"1048576"``, ``"512KiB"``, ``"50MiB"``, ``"2GB"``."""
    match = _NUMBER_UNIT.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size {text!r} (use e.g. 4096, 512KiB, 50MiB, 2GiB)")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_port(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 65535:
        raise ValueError(f"not a port number {text!r} (0-65535, 0 picks a free port)")
    return int(text)


def parse_count(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"not a whole number {text!r}")
    return int(text)


def parse_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"not a rate {text!r} (lines per second, 0 or more)")
    return rate


def parse_line_size(text: str) -> int:
    size = parse_size(text)
    if not 1 <= size <= 1024 * 1024:
        raise ValueError(f"line size {text!r} out of range (1 byte to 1MiB)")
    return size


def parse_path(text: str) -> str:
    if not text or "\0" in text:
        raise ValueError(f"not a path {text!r}")
    return text


def parse_switch(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"not on/off {text!r} (use 1 or 0)")


# --- options -------------------------------------------------------------------


class Settings(NamedTuple):
    # A NamedTuple, not a dataclass: dataclasses pulls in inspect, which
    # costs more start-up time than the rest of the node.

    version_string: str = DEFAULT_VERSION
    config_dir: str | None = None
    port: int = 0
    port_file: str | None = None
    pid_file: str | None = None
    log_rate: float = 2.0
    log_lines: int | None = None
    log_line_size: int | None = None
    write_stats: str | None = None
    crash_after: float | None = None
    hang_after: float | None = None
    fail_at_start: bool = False
    migration_min_free: int | None = None
    migration_path: str | None = None
    eat_memory: int | None = None
    spin_cpu: bool = False
    fork_child: bool = False
    child_pid_file: str | None = None
    ignore_stop: bool = False
    stop_delay: float = 0.0


# (flags, parser or None for an on/off switch, help); the dest is the first flag.
OPTIONS: tuple[tuple[tuple[str, ...], Callable[[str], Any] | None, str], ...] = (
    (("--version-string",), parse_version_string, "version to report (X.Y.Z)"),
    (("--config-dir",), parse_path, "accepted like the real node's; only logged"),
    (("--port",), parse_port, "HTTP port for /api/sno and /health (0: pick a free one)"),
    (("--port-file",), parse_path, "write the chosen port here (atomically)"),
    (("--pid-file",), parse_path, "write the process id here"),
    (("--log-rate",), parse_rate, "log lines per second (0: none)"),
    (("--log-lines", "--log-burst"), parse_count, "write N lines as fast as possible, then idle"),
    (("--log-line-size",), parse_line_size, "pad every log line to this many bytes"),
    (("--write-stats",), parse_path, "time every write() to stdout; JSON p99/max (ms) here"),
    (("--crash-after",), parse_duration, "panic and exit 1 after this long"),
    (("--hang-after",), parse_duration, "stop answering HTTP and logging after this long"),
    (("--fail-at-start",), None, "exit 1 with an error before serving"),
    (("--migration-min-free",), parse_size, "migration needs this much free space"),
    (("--migration-path",), parse_path, "folder the migration runs in"),
    (("--eat-memory",), parse_size, "allocate and touch this much memory (50MiB/s)"),
    (("--spin-cpu",), None, "keep one CPU core busy"),
    (("--fork-child",), None, "fork a child that sleeps and ignores SIGTERM/SIGINT"),
    (("--child-pid-file",), parse_path, "the forked child writes its pid here"),
    (("--ignore-stop",), None, "ignore SIGINT and SIGTERM"),
    (("--stop-delay",), parse_duration, "on SIGINT/SIGTERM wait this long before exiting"),
)


def _dest(flags: tuple[str, ...]) -> str:
    return flags[0][2:].replace("-", "_")


def env_name(flags: tuple[str, ...]) -> str:
    return ENV_PREFIX + _dest(flags).upper()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise DemoUsageError(message)


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def parse_settings(argv: Sequence[str], env: Mapping[str, str]) -> tuple[str, Settings]:
    """The command (``run`` or ``version``) and the settings; raises DemoUsageError."""
    defaults: dict[str, Any] = {}
    for flags, parse, _help in OPTIONS:
        raw = env.get(env_name(flags))
        if raw is None:
            continue
        try:
            defaults[_dest(flags)] = (parse or parse_switch)(raw)
        except ValueError as exc:
            raise DemoUsageError(f"{env_name(flags)}: {exc}") from None
    parser = _Parser(
        prog="storagenode",
        allow_abbrev=False,
        description="nodekeeper demo node (a stand-in for storagenode)",
    )
    parser.add_argument("command", choices=("run", "version"))
    for flags, parse, help_text in OPTIONS:
        if parse is None:
            parser.add_argument(*flags, dest=_dest(flags), action="store_true", help=help_text)
        else:
            parser.add_argument(
                *flags, dest=_dest(flags), type=_argument_type(parse), help=help_text
            )
    parser.set_defaults(**Settings._field_defaults)
    parser.set_defaults(**defaults)
    args = parser.parse_args(list(argv))
    settings = Settings(**{name: getattr(args, name) for name in Settings._fields})
    if settings.migration_min_free is not None and settings.migration_path is None:
        raise DemoUsageError("--migration-min-free needs --migration-path")
    if settings.fork_child and not hasattr(os, "fork"):
        raise DemoUsageError("--fork-child is not supported on this OS")
    return args.command, settings


# --- output formats (pure) -------------------------------------------------------


_second_text: tuple[int, str] = (-1, "")


def format_timestamp(epoch: float) -> str:
    global _second_text
    second, millis = divmod(int(epoch * 1000), 1000)
    if _second_text[0] != second:  # strftime once a second, not once a line
        _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second_text[1]}.{millis:03d}Z"


def format_log_line(
    epoch: float,
    level: str,
    logger: str,
    message: str,
    fields_: Mapping[str, Any],
    n: int,
    size: int | None = None,
) -> bytes:
    """One log line like the real node's, ending in the sequence number ``n``.

    With ``size`` a shorter line (newline included) is padded to exactly that
    many bytes: a ``"Pad"`` field, or spaces inside the JSON when even an
    empty ``"Pad"`` would be too long. The line's meaning never changes.
    """
    head = f"{format_timestamp(epoch)}\t{level}\t{logger}\t{message}\t"
    line = (head + json.dumps({**fields_, "n": n}) + "\n").encode()
    missing = 0 if size is None else size - len(line)
    if missing >= _PAD_OVERHEAD:
        padded = {**fields_, "Pad": "x" * (missing - _PAD_OVERHEAD), "n": n}
        line = (head + json.dumps(padded) + "\n").encode()
    elif missing > 0:
        start, end = line.rsplit(b'"n": ', 1)
        line = start + b" " * missing + b'"n": ' + end
    return line


def piece_fields(n: int) -> tuple[str, dict[str, Any]]:
    """What the ``n``-th piecestore line reports (deterministic)."""
    digest = ((n + 1) * _PIECE_MIX % (1 << 256)).to_bytes(32, "big")
    # base64.b32encode is slow pure Python: combine halves of 1024 ids
    # computed once (a million distinct ids; ``n`` keeps lines unique anyway).
    pool = _piece_id_pool()
    piece_id = pool[n % 1024][:26] + pool[(n // 1024 + 7 * n) % 1024][26:]
    action = ("uploaded", "PUT") if n % 3 else ("downloaded", "GET")
    return action[0], {
        "Piece ID": piece_id,
        "Satellite ID": SATELLITE_ID,
        "Action": action[1],
        "Size": 1024 + digest[0] * 9000,
        "Remote Address": f"10.0.{digest[1]}.{digest[2]}:28967",
    }


_PIECE_IDS: list[str] = []


def _piece_id_pool() -> list[str]:
    if not _PIECE_IDS:
        for i in range(1024):
            digest = ((i + 7) * _PIECE_MIX % (1 << 256)).to_bytes(32, "big")
            _PIECE_IDS.append(base64.b32encode(digest).decode().rstrip("=")[:52])
    return _PIECE_IDS


def node_id(seed: bytes) -> str:
    """A Storj-style base58check node id (identity version 0) derived from ``seed``."""
    import hashlib  # here, not at the top: only `run` needs it (start-up time)

    raw = bytes([0]) + hashlib.sha256(seed).digest()[:31] + bytes([0])
    data = raw + hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    number, text = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def version_text(version: str) -> str:
    import hashlib

    commit = hashlib.sha1(f"nodekeeper-demo-{version}".encode()).hexdigest()
    return (
        f"Release build\nVersion: v{version}\nBuild timestamp: {BUILD_TIMESTAMP}\n"
        f"Git commit: {commit}\n"
    )


class WriteStats:
    """Duration of every write() to stdout, kept as a 0.1 ms histogram."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.writes = 0
        self.max_seconds = 0.0
        # Its own lock, never held during a write(): reading the statistics
        # must not wait for a write that is stuck on a full pipe.
        self.lock = threading.Lock()

    def record(self, seconds: float) -> None:
        bucket = int(seconds * 10_000)
        with self.lock:
            self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
            self.writes += 1
            self.max_seconds = max(self.max_seconds, seconds)

    def summary(self, lines: int) -> dict[str, Any]:
        with self.lock:
            buckets, writes, max_seconds = dict(self.buckets), self.writes, self.max_seconds
        p99 = 0.0
        if writes:
            rank, seen = math.ceil(writes * 0.99), 0
            for bucket in sorted(buckets):
                seen += buckets[bucket]
                if seen >= rank:
                    p99 = min((bucket + 1) / 10, max_seconds * 1000)
                    break
        return {
            "lines": lines,
            "writes": writes,
            "p99_ms": round(p99, 3),
            "max_ms": round(max_seconds * 1000, 3),
        }


# --- the running node ------------------------------------------------------------


def write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(tmp, path)


class LogWriter:
    """Numbered log lines to one file descriptor; thread-safe, one write() per line."""

    def __init__(self, fd: int, line_size: int | None, stats: WriteStats | None) -> None:
        self.fd, self.line_size, self.stats = fd, line_size, stats
        self.lock = threading.Lock()
        self.next_n = 0
        self.broken = False

    def log(self, level: str, logger: str, message: str, fields_: Mapping[str, Any]) -> None:
        with self.lock:
            self._write(
                format_log_line(
                    time.time(), level, logger, message, fields_, self.next_n, self.line_size
                )
            )
            self.next_n += 1

    def piece(self) -> None:
        with self.lock:
            message, fields_ = piece_fields(self.next_n)
            self._write(
                format_log_line(
                    time.time(), "INFO", "piecestore", message, fields_, self.next_n, self.line_size
                )
            )
            self.next_n += 1

    def _write(self, data: bytes) -> None:
        if self.broken:
            return
        started = time.perf_counter()
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            self.broken = True  # stdout closed: keep running without logs
            return
        if self.stats is not None:
            self.stats.record(time.perf_counter() - started)


HTTP_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
MAX_HEADER_LINES = 100


class _Server(socketserver.ThreadingTCPServer):
    """A tiny HTTP/1.1 server (one request per connection).

    Not http.server: importing it (with http.client, email and ssl) would
    triple the node's start-up time.
    """

    daemon_threads = True
    allow_reuse_address = True  # a restarted node gets its port back at once

    def __init__(self, port: int, answer: Callable[[str, str], tuple[int, bytes]]) -> None:
        self.answer = answer
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30.0

    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        parts = self.rfile.readline(8192).decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            status, body = 400, b'{"error": "bad request"}'
        else:
            for _ in range(MAX_HEADER_LINES):  # headers are read and ignored
                if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                    break
            status, body = server.answer(parts[0], parts[1])
        head = (
            f"HTTP/1.1 {status} {HTTP_REASONS[status]}\r\nServer: storagenode\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)


class Node:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.out = LogWriter(
            sys.stdout.fileno(),
            settings.log_line_size,
            WriteStats() if settings.write_stats else None,
        )
        self.hung = threading.Event()
        self.stopping = threading.Event()
        self.stop_requested = False
        self.signal_name = ""
        self.started_at = time.time()
        self.node_id = node_id((settings.config_dir or "nodekeeper-demo").encode())

    # -- pieces of run() --------------------------------------------------------------

    def fail(self, message: str) -> int:
        sys.stderr.write(
            f"{format_timestamp(time.time())}\tFATAL\tUnrecoverable error\t"
            f"{json.dumps({'error': message})}\nError: {message}\n"
        )
        sys.stderr.flush()
        return 1

    def write_file(self, option: str, path: str, number: int) -> bool:
        try:
            write_atomically(path, f"{number}\n")
        except OSError as exc:
            self.fail(f"{option} {path}: {exc.strerror or exc}")
            return False
        return True

    def on_stop_signal(self, signum: int, frame: object) -> None:
        self.stop_requested = True
        self.signal_name = signal.Signals(signum).name

    def install_signals(self, wakeup: socket.socket) -> None:
        if hasattr(signal, "SIGPIPE"):
            # Like a Go program: a broken stdout pipe ends the process.
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        stop_signals = [signal.SIGINT, signal.SIGTERM] + (
            [signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else []
        )
        for signum in stop_signals:
            signal.signal(
                signum, signal.SIG_IGN if self.settings.ignore_stop else self.on_stop_signal
            )
        signal.set_wakeup_fd(wakeup.fileno(), warn_on_full_buffer=False)

    def fork_child(self) -> None:
        if sys.platform == "win32":  # parse_settings refuses --fork-child there
            raise DemoUsageError("--fork-child is not supported on this OS")
        pid = os.fork()
        if pid:
            return
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if self.settings.child_pid_file:
                write_atomically(self.settings.child_pid_file, f"{os.getpid()}\n")
            time.sleep(CHILD_LIFETIME)
        finally:
            os._exit(0)

    def migrate(self) -> str | None:
        """Run the start-up "migration"; the error message if it fails."""
        path, needed = self.settings.migration_path, self.settings.migration_min_free
        if path is None:
            return None
        try:
            import shutil  # here: it imports bz2 and lzma

            free = shutil.disk_usage(path).free
            if needed is not None and free < needed:
                return (
                    f"Error during preflight check for storagenode databases: migration: "
                    f"not enough free space in {path}: {free} bytes free, {needed} required"
                )
            write_atomically(
                os.path.join(path, MIGRATION_MARKER), f"{self.settings.version_string}\n"
            )
        except OSError as exc:
            return f"Error during preflight check for storagenode databases: migration: {exc}"
        return None

    def serve(self) -> _Server:
        server = _Server(self.settings.port, self.answer)
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        return server

    def answer(self, method: str, target: str) -> tuple[int, bytes]:
        """Status and JSON body for one HTTP request."""
        if self.hung.is_set():
            threading.Event().wait()  # a hung node never answers
        path = target.split("?", 1)[0]
        body: dict[str, Any] | None = None
        if path == "/api/sno":
            body = self.sno()
        elif path == "/health":
            body = {"ok": True, "version": self.settings.version_string}
        if body is None:
            return 404, b'{"error": "not found"}'
        if method != "GET":
            return 405, b'{"error": "use GET"}'
        return 200, json.dumps(body).encode()

    def sno(self) -> dict[str, Any]:
        return {
            "nodeID": self.node_id,
            "version": self.settings.version_string,
            "allowedVersion": "0.0.0",
            "upToDate": True,
            "startedAt": format_timestamp(self.started_at),
            "lastPinged": format_timestamp(time.time()),
            "satellites": [],
        }

    def log_loop(self) -> None:
        settings, start = self.settings, time.monotonic()
        if settings.log_lines is not None:
            for _ in range(settings.log_lines):
                if self.hung.is_set() or self.stopping.is_set():
                    return
                self.out.piece()
            return
        written = 0
        while settings.log_rate > 0:
            due = start + written / settings.log_rate
            if self.stopping.wait(max(0.0, due - time.monotonic())) or self.hung.is_set():
                return
            self.out.piece()
            written += 1

    def eat_memory(self, total: int) -> None:
        held: list[bytes] = []
        step = MEMORY_RATE // 10
        while total > 0 and not self.stopping.is_set():
            held.append(b"\x5a" * min(step, total))  # filled, so every page is touched
            total -= min(step, total)
            time.sleep(0.1)
        self.stopping.wait()

    def spin(self) -> None:
        count = 0
        while not self.stopping.is_set():
            count += 1

    def save_stats(self) -> None:
        if self.settings.write_stats and self.out.stats is not None:
            write_atomically(
                self.settings.write_stats,
                json.dumps(self.out.stats.summary(self.out.next_n)) + "\n",
            )

    def crash(self) -> int:
        self.save_stats()
        sys.stderr.write(
            f"panic: piecestore: simulated crash after {self.settings.crash_after}s\n\n"
            "goroutine 1 [running]:\nstorj.io/storj/storagenode/piecestore.(*Endpoint)"
            ".Upload(...)\n\t/go/src/storj.io/storj/storagenode/piecestore/endpoint.go:301"
            " +0x1a4\n"
        )
        sys.stderr.flush()
        return 1

    def run(self) -> int:
        settings = self.settings
        if settings.fail_at_start:
            return self.fail("demo node: failed to start (--fail-at-start)")
        wakeup, wakeup_write = socket.socketpair()
        wakeup_write.setblocking(False)
        self.install_signals(wakeup_write)
        if settings.pid_file and not self.write_file("--pid-file", settings.pid_file, os.getpid()):
            return 1
        if settings.fork_child:
            self.fork_child()
        error = self.migrate()
        if error is not None:
            return self.fail(error)
        try:
            server = self.serve()
        except OSError as exc:
            return self.fail(f"listen tcp 127.0.0.1:{settings.port}: {exc.strerror or exc}")
        port = int(server.server_address[1])
        if settings.port_file and not self.write_file("--port-file", settings.port_file, port):
            return 1
        self.out.log(
            "INFO", "process", "Configuration loaded", {"Location": settings.config_dir or ""}
        )
        self.out.log(
            "INFO",
            "server",
            "Public server started",
            {"Address": f"127.0.0.1:{port}", "Version": settings.version_string},
        )
        workers: list[Callable[[], None]] = [self.log_loop]
        if settings.eat_memory:
            workers.append(lambda: self.eat_memory(settings.eat_memory or 0))
        if settings.spin_cpu:
            workers.append(self.spin)
        for worker in workers:
            threading.Thread(target=worker, daemon=True).start()
        start = time.monotonic()
        crash_at = None if settings.crash_after is None else start + settings.crash_after
        hang_at = None if settings.hang_after is None else start + settings.hang_after
        while not self.stop_requested:
            now = time.monotonic()
            if crash_at is not None and now >= crash_at:
                return self.crash()
            if hang_at is not None and now >= hang_at:
                self.hung.set()
                hang_at = None
            self.save_stats()
            # Idle like a real node: wake only for a deadline or the stats file.
            waits = [at - now for at in (crash_at, hang_at) if at is not None]
            waits += [1.0] if settings.write_stats else []
            timeout = max(0.0, min(waits)) if waits else None
            if select.select([wakeup], [], [], timeout)[0]:
                wakeup.recv(4096)
        self.stopping.set()
        self.out.log(
            "INFO",
            "process",
            "Got a signal from the OS: shutting down",
            {"signal": self.signal_name},
        )
        time.sleep(settings.stop_delay)
        self.out.log("INFO", "process", "stopped", {})
        self.save_stats()
        return 0


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    try:
        command, settings = parse_settings(
            sys.argv[1:] if argv is None else argv, os.environ if env is None else env
        )
    except DemoUsageError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 2
    if command == "version":
        sys.stdout.write(version_text(settings.version_string))
        return 0
    try:
        return Node(settings).run()
    except OSError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1


def _exit(code: int) -> None:
    """Exit at once: daemon threads may be blocked in a hung handler or a full pipe."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
