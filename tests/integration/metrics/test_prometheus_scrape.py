"""[metrics] listen: a real Prometheus scrapes the core and promtool accepts the output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CoreHarness, free_port, wait_until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None, reason="Debian package prometheus not installed"
)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def metrics_core(core: CoreHarness) -> Iterator[tuple[CoreHarness, int]]:
    port = free_port()
    core.extra["metrics"] = {"listen": f"127.0.0.1:{port}"}
    core.start()
    core.wait_state("running")
    wait_until(lambda: "nodekeeper_node_up" in _try_scrape(port), 15, "the metrics endpoint")
    yield core, port


def _try_scrape(port: int) -> str:
    try:
        return scrape(port)
    except OSError:
        return ""


def test_every_series_carries_the_instance_label(metrics_core: tuple[CoreHarness, int]) -> None:
    core, port = metrics_core
    text = scrape(port)
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples
    for line in samples:
        assert f'instance="{core.instance}"' in line, line
    assert f'nodekeeper_node_up{{instance="{core.instance}"}} 1.0' in text
    assert f'nodekeeper_log_lines_total{{instance="{core.instance}"}}' in text


def test_a_crash_counts_as_a_restart_by_reason(metrics_core: tuple[CoreHarness, int]) -> None:
    core, port = metrics_core
    pid = core.wait_state("running")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: (
            'nodekeeper_node_restarts_total{instance="testnode",reason="crashed"} 1.0'
            in scrape(port)
        ),
        15,
        "a restart counted as crashed:\n" + scrape(port),
    )
    # The demo node answers its health URL: checks are timed.
    wait_until(
        lambda: 'nodekeeper_health_check_seconds_count{instance="testnode"}' in scrape(port),
        10,
        "a timed health check",
    )


@needs_prometheus
def test_promtool_accepts_the_output(metrics_core: tuple[CoreHarness, int]) -> None:
    _, port = metrics_core
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=scrape(port).encode(),
        capture_output=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def query(api: str, expr: str) -> list[dict[str, Any]]:
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            answer = json.load(response)
    except OSError:
        return []
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


@needs_prometheus
def test_a_real_prometheus_reads_the_series_back(
    metrics_core: tuple[CoreHarness, int], tmp_path: Path
) -> None:
    core, port = metrics_core
    assert PROMETHEUS is not None
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: nodekeeper\n"
        # The series name their nodekeeper instance; the target's address stays apart.
        "    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    web_port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    server = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{web_port}"
    try:
        wait_until(lambda: query(api, "nodekeeper_node_up"), 60, "prometheus scraped the core")
        up = query(api, "nodekeeper_node_up")
        assert up[0]["metric"]["instance"] == core.instance
        assert up[0]["value"][1] == "1"
        info = query(api, "nodekeeper_version_info")
        assert info and info[0]["metric"]["instance"] == core.instance
        free = query(api, "nodekeeper_data_dir_free_bytes")
        assert free and float(free[0]["value"][1]) > 0
        rss = query(api, "nodekeeper_core_resident_memory_bytes")
        assert rss and float(rss[0]["value"][1]) > 1024 * 1024
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def test_a_port_in_use_is_one_line_naming_the_key(core: CoreHarness) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        core.extra["metrics"] = {"listen": f"127.0.0.1:{taken.getsockname()[1]}"}
        core.start(wait_running=False)
        assert core.process is not None
        code = core.process.wait(30)
    error = core.stderr_path.read_text()
    assert code != 0
    assert "metrics.listen: cannot listen on" in error and "Traceback" not in error
