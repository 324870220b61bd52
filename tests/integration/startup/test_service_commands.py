"""The commands install and uninstall run, seen by a real `systemctl` program on PATH.

The stand-in `systemctl` is a small script that records its arguments and
exits with the code the test asks for; the installer starts it as a real
process, as it would start systemd's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nodekeeper.core.startup.apply import Installer, run_subprocess
from nodekeeper.core.startup.errors import ServiceError
from nodekeeper.core.startup.plan import ServicePlan, build_plan
from tests.unit.startup.specs import make_spec

UNIT = "nodekeeper-n1.service"

SCRIPT = """#!{python}
import os, sys
with open(os.environ["SYSTEMCTL_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1] == os.environ.get("SYSTEMCTL_FAIL", ""):
    print("Failed to do it: Access denied", file=sys.stderr)
    sys.exit(4)
if sys.argv[1] == "is-active":
    print("active")
sys.exit(0)
"""


@pytest.fixture
def systemctl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "systemctl"
    program.write_text(SCRIPT.format(python=sys.executable))
    program.chmod(0o755)
    log = tmp_path / "systemctl.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SYSTEMCTL_LOG", str(log))
    return log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def installer(plan: ServicePlan, root: Path, said: list[str]) -> Installer:
    return Installer(plan, root=root, run_commands=True, runner=run_subprocess, say=said.append)


def test_first_install_reloads_and_enables_the_unit_now(
    tmp_path: Path, systemctl_log: Path
) -> None:
    said: list[str] = []
    assert installer(build_plan("linux", make_spec(instance="n1")), tmp_path, said).install() == 0
    assert calls(systemctl_log) == ["daemon-reload", f"try-restart {UNIT}", f"enable --now {UNIT}"]
    assert f"ran: systemctl enable --now {UNIT}" in said


def test_unchanged_second_install_only_makes_sure_the_unit_is_enabled(
    tmp_path: Path, systemctl_log: Path
) -> None:
    plan = build_plan("linux", make_spec(instance="n1"))
    installer(plan, tmp_path, []).install()
    systemctl_log.unlink()
    installer(plan, tmp_path, []).install()
    assert calls(systemctl_log) == [f"enable --now {UNIT}"]


def test_changed_unit_restarts_a_running_core_once(tmp_path: Path, systemctl_log: Path) -> None:
    installer(build_plan("linux", make_spec(instance="n1")), tmp_path, []).install()
    systemctl_log.unlink()
    installer(build_plan("linux", make_spec(instance="n1", nice=5)), tmp_path, []).install()
    assert calls(systemctl_log) == ["daemon-reload", f"try-restart {UNIT}", f"enable --now {UNIT}"]


def test_uninstall_disables_before_removing_and_reloads_after(
    tmp_path: Path, systemctl_log: Path
) -> None:
    plan = build_plan("linux", make_spec(instance="n1"))
    installer(plan, tmp_path, []).install()
    systemctl_log.unlink()
    said: list[str] = []
    assert installer(plan, tmp_path, said).uninstall() == 0
    assert calls(systemctl_log) == [f"disable --now {UNIT}", "daemon-reload"]
    assert said.index(f"ran: systemctl disable --now {UNIT}") < said.index(
        f"removed {tmp_path}/etc/systemd/system/{UNIT}"
    )
    assert not list(tmp_path.joinpath("etc").rglob("*.service"))


def test_status_shows_what_systemd_says(tmp_path: Path, systemctl_log: Path) -> None:
    plan = build_plan("linux", make_spec(instance="n1"))
    installer(plan, tmp_path, []).install()
    said: list[str] = []
    assert installer(plan, tmp_path, said).status() == 0
    assert f"systemctl is-active {UNIT}: active" in said


def test_a_failing_systemctl_is_one_line_naming_the_command(
    tmp_path: Path, systemctl_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYSTEMCTL_FAIL", "enable")
    with pytest.raises(ServiceError) as caught:
        installer(build_plan("linux", make_spec(instance="n1")), tmp_path, []).install()
    message = str(caught.value)
    assert message == (
        f"`systemctl enable --now {UNIT}` failed with exit code 4: Failed to do it: Access denied"
    )


def test_a_missing_service_manager_program_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServiceError, match="systemctl is not installed here"):
        installer(build_plan("linux", make_spec(instance="n1")), tmp_path, []).install()


def test_unwritable_unit_folder_is_one_line_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "etc").write_text("a file where a folder should be")
    plan = build_plan("linux", make_spec(instance="n1"))
    with pytest.raises(ServiceError) as caught:
        Installer(plan, root=tmp_path, run_commands=False, say=lambda _: None).install()
    assert str(caught.value).startswith(f"cannot write {tmp_path}/etc/systemd/system/{UNIT}: ")
