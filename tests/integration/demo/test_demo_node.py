"""The demo node as a real process behaves like a storage node, and misbehaves on request."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, free_port, wait_until
from tests.integration.demo.support import DemoNodes, clean_env, get_json

LINE = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t(INFO|WARN|ERROR)\t(\w+)\t([^\t]+)\t(\{.*\})"
)


def run_version(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodekeeper.core.demo.node", *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        cwd=REPO,
        timeout=20,
    )


def numbers(lines: list[str]) -> list[int]:
    result = []
    for line in lines:
        match = LINE.fullmatch(line)
        assert match, f"not a storage node log line: {line!r}"
        result.append(json.loads(match.group(5))["n"])
    return result


def process_state(pid: int) -> str | None:
    """The /proc state letter (R, S, Z, ...) or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def test_version_prints_version_build_timestamp_and_commit() -> None:
    result = run_version("version", "--version-string", "1.2.3")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "Version: v1.2.3" in lines
    assert any(line.startswith("Build timestamp: ") for line in lines)
    assert any(re.fullmatch(r"Git commit: [0-9a-f]{40}", line) for line in lines)


def test_environment_sets_options_and_command_line_wins() -> None:
    from_env = run_version("version", env={"NK_DEMO_VERSION_STRING": "2.0.0"})
    both = run_version(
        "version", "--version-string", "3.0.0", env={"NK_DEMO_VERSION_STRING": "2.0.0"}
    )
    assert "Version: v2.0.0" in from_env.stdout.splitlines()
    assert "Version: v3.0.0" in both.stdout.splitlines()


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["run", "--port", "http"], {}, "--port"),
        (["run", "--crash-after", "soon"], {}, "--crash-after"),
        (["run", "--no-such-flag"], {}, "--no-such-flag"),
        (["fly"], {}, "fly"),
        (["run"], {"NK_DEMO_LOG_RATE": "fast"}, "NK_DEMO_LOG_RATE"),
        (["run", "--migration-min-free", "1GiB"], {}, "--migration-path"),
    ],
)
def test_bad_option_gives_one_line_naming_it_and_exit_2(
    args: list[str], env: dict[str, str], named: str
) -> None:
    result = run_version(*args, env=env)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_api_sno_answers_version_node_id_and_up_to_date(demo_nodes: DemoNodes) -> None:
    node = demo_nodes.start("run", "--port", "0", "--version-string", "1.7.0")
    port = node.port()
    sno = get_json(port)
    assert sno["version"] == "1.7.0"
    assert sno["upToDate"] is True
    assert isinstance(sno["nodeID"], str) and sno["nodeID"]
    assert get_json(port, "/health")["ok"] is True


def raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_http_answers_bad_requests_with_status_codes_not_crashes(demo_nodes: DemoNodes) -> None:
    node = demo_nodes.start("run")
    port = node.port()
    assert raw_http(port, b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_http(port, b"POST /api/sno HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405 ")
    assert raw_http(port, b"GET /nothing HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404 ")
    assert raw_http(port, b"\r\n").startswith(b"HTTP/1.1 400 ")
    assert get_json(port)["upToDate"] is True
    assert node.alive()


def test_requested_port_is_served_and_pid_file_written(
    demo_nodes: DemoNodes, tmp_path: Path
) -> None:
    port = free_port()
    pid_file = tmp_path / "node.pid"
    node = demo_nodes.start("run", "--port", str(port), "--pid-file", str(pid_file))
    assert node.port() == port
    assert get_json(port)["version"] == "1.0.0"
    assert int(pid_file.read_text()) == node.pid


def test_log_lines_are_numbered_without_gaps_and_sigterm_stops_gracefully(
    demo_nodes: DemoNodes,
) -> None:
    node = demo_nodes.start("run", "--log-rate", "100")
    node.port()
    wait_until(lambda: len(node.stdout_lines()) >= 30, 10, "30 log lines")
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    lines = node.stdout_lines()
    assert numbers(lines) == list(range(len(lines)))
    assert any("\tpiecestore\tuploaded\t" in line for line in lines)
    assert "shutting down" in lines[-2]
    assert "SIGTERM" in lines[-2]


def test_sigint_stops_gracefully(demo_nodes: DemoNodes) -> None:
    node = demo_nodes.start("run")
    node.port()
    node.signal(signal.SIGINT)
    assert node.wait() == 0
    assert any("shutting down" in line and "SIGINT" in line for line in node.stdout_lines())


def test_log_burst_writes_exactly_n_padded_lines_then_idles_and_reports_write_times(
    demo_nodes: DemoNodes, tmp_path: Path
) -> None:
    stats = tmp_path / "stats.json"
    node = demo_nodes.start(
        "run", "--log-lines", "3000", "--log-line-size", "300", "--write-stats", str(stats)
    )
    node.port()
    wait_until(lambda: len(node.stdout_lines()) >= 3002, 15, "3000 burst lines")
    time.sleep(0.3)
    assert len(node.stdout_lines()) == 3002  # idle after the burst
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    lines = node.stdout_lines()
    pieces = [line for line in lines if "\tpiecestore\t" in line]
    assert len(pieces) == 3000
    assert {len(line.encode()) + 1 for line in pieces} == {300}
    assert numbers(lines) == list(range(len(lines)))
    report = json.loads(stats.read_text())
    assert report["lines"] == report["writes"] == len(lines)
    assert 0 <= report["p99_ms"] <= report["max_ms"]


def test_stop_delay_waits_before_exiting_0(demo_nodes: DemoNodes) -> None:
    node = demo_nodes.start("run", "--stop-delay", "1s")
    node.port()
    stopped = time.monotonic()
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    assert time.monotonic() - stopped >= 1.0


def test_crash_after_exits_1_with_a_panic_near_the_time(demo_nodes: DemoNodes) -> None:
    started = time.monotonic()
    node = demo_nodes.start("run", "--crash-after", "1.5")
    assert node.wait(timeout=20) == 1
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 15
    assert node.stderr().startswith("panic: ")


def test_hang_stops_answering_and_logging_while_process_lives(demo_nodes: DemoNodes) -> None:
    node = demo_nodes.start("run", "--hang-after", "1", "--log-rate", "50")
    port = node.port()
    assert get_json(port)["upToDate"] is True

    def unanswered() -> bool:
        try:
            get_json(port, timeout=0.3)
        except OSError:
            return True
        return False

    wait_until(unanswered, 10, "the node to stop answering")
    count = len(node.stdout_lines())
    time.sleep(0.5)
    assert len(node.stdout_lines()) == count
    assert node.alive()
    assert unanswered()


def test_fail_at_start_exits_1_with_an_error_before_serving(demo_nodes: DemoNodes) -> None:
    node = demo_nodes.start("run", "--fail-at-start")
    assert node.wait() == 1
    assert "Error: " in node.stderr()
    assert not node.port_file.exists()


@pytest.mark.root
def test_migration_fails_when_free_space_is_below_minimum(
    demo_nodes: DemoNodes, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        node = demo_nodes.start(
            "run", "--migration-path", str(small), "--migration-min-free", "10MiB"
        )
        assert node.wait() == 1
        assert "not enough free space" in node.stderr()
        assert str(small) in node.stderr()
        assert not node.port_file.exists()
        assert not (small / ".nk-demo-migration").exists()
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_migration_passes_on_a_big_disk_and_leaves_a_marker(
    demo_nodes: DemoNodes, tmp_path: Path
) -> None:
    node = demo_nodes.start(
        "run",
        "--migration-path",
        str(tmp_path),
        "--migration-min-free",
        "1MiB",
        "--version-string",
        "1.5.0",
    )
    assert get_json(node.port())["version"] == "1.5.0"
    assert (tmp_path / ".nk-demo-migration").read_text().strip() == "1.5.0"


def test_forked_child_ignores_sigterm_and_outlives_its_parent(
    demo_nodes: DemoNodes, tmp_path: Path
) -> None:
    child_file = tmp_path / "child.pid"
    node = demo_nodes.start("run", "--fork-child", "--child-pid-file", str(child_file))
    child = int(wait_until(lambda: child_file.exists() and child_file.read_text(), 10, "child pid"))
    demo_nodes.extra_pids.append(child)
    node.port()
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    os.kill(child, signal.SIGTERM)
    os.kill(child, signal.SIGINT)
    time.sleep(0.3)
    assert process_state(child) not in (None, "Z")


def test_ignore_stop_survives_sigterm_and_sigint_and_keeps_serving(
    demo_nodes: DemoNodes,
) -> None:
    node = demo_nodes.start("run", "--ignore-stop")
    port = node.port()
    node.signal(signal.SIGTERM)
    node.signal(signal.SIGINT)
    time.sleep(0.5)
    assert node.alive()
    assert get_json(port)["upToDate"] is True


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1))


def test_eat_memory_grows_resident_memory_by_that_much(demo_nodes: DemoNodes) -> None:
    plain = demo_nodes.start("run")
    eating = demo_nodes.start("run", "--eat-memory", "60MiB")
    plain.port()
    eating.port()
    # 50 MiB/s on an idle machine; a loaded one may lend the node little CPU.
    wait_until(
        lambda: rss_kib(eating.pid) - rss_kib(plain.pid) >= 60 * 1024, 60, "60 MiB more resident"
    )


def test_spin_cpu_keeps_a_core_busy(demo_nodes: DemoNodes) -> None:
    node = demo_nodes.start("run", "--spin-cpu", "--log-rate", "0")
    node.port()

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{node.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    wait_until(lambda: cpu_seconds() >= 0.5, 15, "half a second of CPU time")


def test_broken_stdout_pipe_ends_the_node_like_a_go_program(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "nodekeeper.core.demo.node", "run", "--log-rate", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()
        assert process.wait(timeout=10) == -signal.SIGPIPE
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
