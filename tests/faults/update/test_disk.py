"""A read-only or full data dir: the update is refused before downloading, the node keeps running.

The core's data dir is a tmpfs mounted by the test, so the faults are
real: ``mount -o remount,ro`` for a read-only disk, a filler file for a
full one. Each test runs against both kinds of release source: a signed
TUF repository served by nginx and a Storj-style version server. The
refusal must come before any byte of the release is fetched (the
servers' request logs show no artifact request), be reported as one line
(``updates.last_error``, ``update-failed``), leave nothing in
``downloads/`` or ``versions/``, and leave the node alone (same pid,
healthy). When the disk is usable again the next check installs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from nodekeeper.core.demo.package import build_release_binary, build_release_zip
from nodekeeper.core.platform.ids import platform_id
from tests.faults.update.support import (
    MIN_FREE,
    EventRecorder,
    mount,
    socket_status,
    tmpfs_data_dir,  # noqa: F401  (fixture)
)
from tests.fixtures.nginx import NginxServer
from tests.helpers import CoreHarness
from tests.integration.update.release_repo import (
    ReleaseRepo,
    configure_updates,
    nodekeeper,
    wait_version,
)
from tests.integration.update.web_release_server import (
    ReleaseServer,
    bytes_reply,
    json_reply,
    release_server,
)

NEW = "1.1.0"


def make_read_only(data_dir: Path) -> None:
    """Turn the data dir read-only under the running core.

    ``mount -o remount,ro`` is refused while a file is open for writing
    there (the core's data-dir lock is), so the read-only view is a bind
    mount of the tmpfs onto itself, remounted read-only: every file the
    core opens from now on is on a read-only filesystem (EROFS).
    """
    for args in (
        ("--bind", str(data_dir), str(data_dir)),
        ("-o", "remount,bind,ro", str(data_dir)),
    ):
        result = mount(*args)
        assert result.returncode == 0, result.stderr


def make_writable(data_dir: Path) -> None:
    result = mount("-o", "remount,bind,rw", str(data_dir))
    assert result.returncode == 0, result.stderr


class Releases(Protocol):
    """Where the core gets 1.0.0 and 1.1.0 from, and whether it asked for the 1.1.0 artifact."""

    def publish_new(self) -> None: ...

    def artifact_requests(self) -> list[str]: ...


class TufReleases:
    def __init__(self, root: Path, nginx: Callable[[Path], NginxServer], core: CoreHarness) -> None:
        self.repo = ReleaseRepo(root)
        self.repo.publish("1.0.0")
        self.repo.publish(NEW)
        self.repo.channel("--minimum", "1.0.0", "--suggested", "1.0.0", "--rollout", "100")
        self.server = nginx(self.repo.dir)
        configure_updates(core, self.repo, self.server.url, probation="1s")

    def publish_new(self) -> None:
        self.repo.channel("--suggested", NEW)

    def artifact_requests(self) -> list[str]:
        return [e.path for e in self.server.access_log() if e.path.endswith(".zip")]


class StorjReleases:
    def __init__(self, root: Path, server: ReleaseServer, core: CoreHarness) -> None:
        self.server = server
        path = f"/storagenode/{NEW}/{platform_id()}.zip"
        self.artifact_path = path
        server.routes[path] = bytes_reply(build_release_zip(NEW, root / "new.zip").read_bytes())
        self.release = {
            "version": NEW,
            "url": server.url(f"/storagenode/{NEW}/{{os}}-{{arch}}.zip"),
        }
        self._serve("1.0.0")
        # The same core as configure_updates() sets up, on the unsigned storj source.
        binary = build_release_binary("1.0.0", core.root / "initial" / "storagenode")
        core.node["command"] = [
            "{binary}",
            "run",
            "--port",
            str(core.port),
            "--pid-file",
            core.marker,
        ]
        core.node["initial_binary"] = str(binary)
        core.extra["updates"] = {
            "enabled": True,
            "source": "storj",
            "url": server.url("/"),
            "allow_http": True,
            "startup_delay": "1h",
            "probation": "1s",
        }

    def _serve(self, suggested: str) -> None:
        current = {"version": "1.0.0", "url": self.server.url("/unused/{os}-{arch}.zip")}
        entry = current if suggested == "1.0.0" else self.release
        document = {
            "processes": {
                "storagenode": {
                    "minimum": current,
                    "suggested": entry,
                    "rollout": {"seed": "", "cursor": "f" * 64},
                }
            }
        }
        self.server.routes["/"] = json_reply(document)

    def publish_new(self) -> None:
        self._serve(NEW)

    def artifact_requests(self) -> list[str]:
        return [path for path, _headers in self.server.requests if path.endswith(".zip")]


@pytest.fixture(params=["tuf", "storj"])
def releases(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    core: CoreHarness,
    nginx: Callable[[Path], NginxServer],
) -> Iterator[Releases]:
    if request.param == "tuf":
        yield TufReleases(tmp_path, nginx, core)
        return
    with release_server() as server:
        yield StorjReleases(tmp_path, server, core)


@dataclass
class Before:
    pid: int
    restarts: int


def start(core: CoreHarness) -> Before:
    # The default min_free_space (1 GiB) would not fit on the small tmpfs.
    core.extra["updates"]["min_free_space"] = MIN_FREE
    core.start()
    wait_version(core, "1.0.0")
    node = socket_status(core)["node"]
    return Before(node["pid"], node["restarts"])


def ask_for_check(core: CoreHarness) -> subprocess.CompletedProcess[str]:
    return nodekeeper("check", "--json", "--config", str(core.config_path), check=False)


def assert_refused_cleanly(
    core: CoreHarness,
    releases: Releases,
    events: EventRecorder,
    before: Before,
    problem: str,
) -> None:
    failed = events.wait_for("update-failed", 30)
    status = socket_status(core)
    error = status["updates"]["last_error"]
    assert isinstance(error, str) and "\n" not in error and problem in error, error
    assert error in failed.values()
    # Refused before downloading: the release was never requested, nothing was written.
    assert releases.artifact_requests() == []
    downloads = core.data_dir / "downloads"
    assert not downloads.exists() or list(downloads.iterdir()) == []
    assert sorted(p.name for p in (core.data_dir / "versions").iterdir()) == ["1.0.0"]
    # The node never noticed.
    node = status["node"]
    assert (node["pid"], node["version"], node["state"]) == (before.pid, "1.0.0", "running")
    assert node["healthy"] and node["restarts"] == before.restarts
    assert core.node_pids() == [before.pid]
    assert "node-exited" not in events.kinds() and "update-installed" not in events.kinds()


def assert_installs_once_the_disk_is_usable(core: CoreHarness, releases: Releases) -> None:
    result = ask_for_check(core)
    assert result.returncode == 0, result.stderr
    wait_version(core, NEW, timeout=30)
    assert releases.artifact_requests() != []


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.usefixtures("tmpfs_data_dir")
def test_a_read_only_data_dir_refuses_the_update_and_keeps_the_node(
    core: CoreHarness, releases: Releases
) -> None:
    before = start(core)
    events = EventRecorder(core.socket_path)
    releases.publish_new()
    make_read_only(core.data_dir)
    try:
        result = ask_for_check(core)
        # The check itself may already need the disk (TUF keeps its metadata there):
        # then `check` fails with the same one line; otherwise it reports the update.
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Read-only file system" in lines[0], result.stderr
        assert_refused_cleanly(core, releases, events, before, "Read-only file system")
    finally:
        make_writable(core.data_dir)
    assert_installs_once_the_disk_is_usable(core, releases)
    events.close()


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.usefixtures("tmpfs_data_dir")
def test_a_full_disk_refuses_the_update_before_downloading_and_keeps_the_node(
    core: CoreHarness, releases: Releases
) -> None:
    before = start(core)
    events = EventRecorder(core.socket_path)
    filler = core.data_dir / "filler"
    free = os.statvfs(core.data_dir).f_bavail * os.statvfs(core.data_dir).f_frsize
    with open(filler, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, free - 512 * 1024)
    releases.publish_new()

    result = ask_for_check(core)
    assert result.returncode == 0, result.stderr  # checking needs next to no space
    assert_refused_cleanly(core, releases, events, before, "not enough disk space")

    filler.unlink()
    assert_installs_once_the_disk_is_usable(core, releases)
    events.close()
