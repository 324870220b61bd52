"""The .deb installs, runs a core as the nodekeeper user, upgrades, removes and purges.

It is installed here with apt, as an operator would; this machine runs no
systemd, so the maintainer scripts must cope the way debhelper's own
snippets do. The test purges the package and removes what it added (the
user only when it created it), leaving the machine as it found it.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("apt-get") is None,
        reason="installing a .deb needs root and apt",
    ),
]

BUNDLE = Path("/usr/lib/nodekeeper/nodekeeper")
UNIT = Path("/lib/systemd/system/nodekeeper@.service")
DEMO_NODE = [str(BUNDLE), "--nodekeeper-run-module", "nodekeeper.core.demo.node"]
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def sh(*argv: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, env=APT_ENV, check=False
    )
    if check:
        assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
    return done


def installed() -> bool:
    done = sh("dpkg-query", "-W", "-f=${Status}", "nodekeeper", check=False)
    return "installed" in done.stdout and "not-installed" not in done.stdout


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def machine(deb_package: Path) -> Iterator[Path]:
    """The package installed with apt; afterwards purged and the machine as before."""
    if installed():
        pytest.skip("a nodekeeper package is installed here already; not touching it")
    for path in ("/etc/nodekeeper", "/var/lib/nodekeeper", "/var/log/nodekeeper"):
        if os.path.exists(path):
            pytest.skip(f"{path} exists already; not touching it")
    had_user = user_exists("nodekeeper")
    try:
        had_group: int | None = grp.getgrnam("nodekeeper").gr_gid
    except KeyError:
        had_group = None
    try:
        sh("apt-get", "install", "-y", "-q", "--no-install-recommends", str(deb_package))
        yield deb_package
    finally:
        if installed():
            sh("apt-get", "purge", "-y", "-q", "nodekeeper", check=False)
        shutil.rmtree("/var/lib/nodekeeper", ignore_errors=True)
        if not had_user and user_exists("nodekeeper"):
            sh("userdel", "nodekeeper", check=False)  # takes its group along
        if had_group is not None and not group_exists("nodekeeper"):
            sh("groupadd", "--system", "--gid", str(had_group), "nodekeeper", check=False)


def scratch_for_service_user() -> Path:
    """A folder of the nodekeeper user's (pytest's tmp_path is root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="nodekeeper-deb-"))
    user = pwd.getpwnam("nodekeeper")
    os.chown(folder, user.pw_uid, user.pw_gid)
    folder.chmod(0o755)
    return folder


def test_installed_package_runs_a_sandboxed_core_and_purge_keeps_node_data(
    machine: Path,
) -> None:
    # On the PATH, from the bundle, with no Python involved.
    done = sh("nodekeeper", "--version")
    from nodekeeper.core import __version__

    assert done.stdout.strip() == f"nodekeeper {__version__}"
    assert Path("/usr/bin/nodekeeper").resolve() == BUNDLE

    # The service user and the folders the maintainer scripts made for it.
    user = pwd.getpwnam("nodekeeper")
    assert grp.getgrgid(user.pw_gid).gr_name == "nodekeeper"
    for folder in ("/var/lib/nodekeeper", "/var/log/nodekeeper"):
        info = os.stat(folder)
        assert (info.st_uid, info.st_mode & 0o777) == (user.pw_uid, 0o750), folder
    etc = os.stat("/etc/nodekeeper")
    assert (etc.st_gid, etc.st_mode & 0o777) == (user.pw_gid, 0o750)
    assert (
        "/etc/nodekeeper/example.toml"
        in Path("/var/lib/dpkg/info/nodekeeper.conffiles").read_text().split()
    )

    # The installed template unit is valid for systemd.
    verify = sh("systemd-analyze", "verify", str(UNIT.with_name("nodekeeper@storagenode.service")))
    assert verify.stdout.strip() == "" and verify.stderr.strip() == ""

    # A core from the package supervises the demo node, as the service user,
    # with the environment the unit gives it (default paths under /var/lib).
    scratch = scratch_for_service_user()
    port = free_port()
    config = scratch / "debtest.toml"
    config.write_text(
        'instance = "debtest"\n[node]\n'
        f"command = {json.dumps([*DEMO_NODE, 'run', '--port', str(port)])}\n"
        f'health_url = "http://127.0.0.1:{port}/api/sno"\n'
        'stop_timeout = "3s"\n'
        '[updates]\nenabled = false\nsource = "storj"\nurl = "http://127.0.0.1:9/"\n'
        "allow_http = true\n"
    )
    state = Path("/var/lib/nodekeeper/debtest")
    core = subprocess.Popen(
        [
            "setpriv",
            "--reuid=nodekeeper",
            "--regid=nodekeeper",
            "--init-groups",
            "--",
            "nodekeeper",
            "run",
            "--config",
            str(config),
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": "/var/lib/nodekeeper",
            "XDG_STATE_HOME": "/var/lib",
            "XDG_RUNTIME_DIR": str(scratch),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd="/",
    )
    try:
        socket_path = scratch / "nodekeeper" / "debtest.sock"

        def running() -> dict[str, object] | None:
            if core.poll() is not None:
                raise AssertionError(
                    f"the core exited: {core.stdout.read() if core.stdout else ''}"
                )
            status = sh("nodekeeper", "status", "--socket", str(socket_path), "--json", check=False)
            if status.returncode != 0:
                return None
            node: dict[str, object] = json.loads(status.stdout)["node"]
            return node if node["state"] == "running" and node["healthy"] else None

        node = wait_until(running, 60, "the packaged core's node to run healthy")
        assert pwd.getpwuid(os.stat(state / "state.json").st_uid).pw_name == "nodekeeper"
        assert node["pid"]
    finally:
        core.send_signal(signal.SIGTERM)
        try:
            assert core.wait(30) == 0
        finally:
            if core.poll() is None:
                core.kill()
                core.wait()
            shutil.rmtree(scratch, ignore_errors=True)

    # The node's own data, placed beside nodekeeper's state, survives purge.
    node_data = state / "storage"
    node_data.mkdir()
    (node_data / "piece").write_text("node data")
    (state / "versions").mkdir(exist_ok=True)
    Path("/var/log/nodekeeper/nodekeeper-debtest.log").write_text("log\n")

    # Remove keeps configuration and data.
    sh("apt-get", "remove", "-y", "-q", "nodekeeper")
    assert not Path("/usr/bin/nodekeeper").exists()
    assert Path("/etc/nodekeeper/example.toml").is_file()
    assert (state / "state.json").is_file()

    # Purge removes configuration and nodekeeper's own state, never the node's data.
    sh("apt-get", "purge", "-y", "-q", "nodekeeper")
    assert not Path("/etc/nodekeeper").exists()
    assert not Path("/var/log/nodekeeper").exists()
    assert not (state / "state.json").exists()
    assert not (state / "versions").exists()
    assert (node_data / "piece").read_text() == "node data"
    assert sh("dpkg-statoverride", "--list", "/etc/nodekeeper", check=False).returncode != 0


UPGRADE_WITH_FAKE_SYSTEMD = """\
set -e
mount -t tmpfs nodekeeper-run /run
mkdir -p /run/systemd/system
exec "$@"
"""


def test_upgrade_restarts_running_instances_once_remove_stops_them(
    machine: Path, tmp_path: Path
) -> None:
    """The postinst, run as dpkg runs it, against a systemd that only records its calls."""
    control = tmp_path / "control"
    sh("dpkg-deb", "--control", str(machine), str(control))
    calls = tmp_path / "calls"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (fake / "systemctl").chmod(0o755)
    path = f"{fake}:/usr/sbin:/usr/bin:/sbin:/bin"

    def script(name: str, *args: str) -> list[str]:
        calls.write_text("")
        sh(
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            UPGRADE_WITH_FAKE_SYSTEMD,
            "fake-systemd",
            "env",
            f"PATH={path}",
            "sh",
            str(control / name),
            *args,
        )
        return calls.read_text().splitlines()

    # dpkg's upgrade order: old prerm upgrade, new postinst configure <old version>.
    assert script("prerm", "upgrade", "0.2.0-1") == []
    assert script("postinst", "configure", "0.1.0") == [
        "--system daemon-reload",
        "try-restart nodekeeper@*.service",
    ]
    assert script("postinst", "configure") == ["--system daemon-reload"]
    assert script("prerm", "remove") == ["stop nodekeeper@*.service"]
