"""The hand-over and its undo, with the command runner replaced by a recorder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from nodekeeper.core.adopt.detect import Choices, Machine, detect
from nodekeeper.core.adopt.errors import AdoptFailed
from nodekeeper.core.adopt.execute import Executor
from nodekeeper.core.adopt.identity import candidates, choose_identity
from nodekeeper.core.adopt.journal import Journal, journal_path
from nodekeeper.core.adopt.plan import build_plan
from nodekeeper.core.startup.apply import CommandResult
from tests.fixtures.storj_setups import docker_root, systemd_root

CONFIG = "/etc/nodekeeper/sn.toml"


class Recorder:
    """Answers like systemctl/docker would; ``fail`` makes one command fail."""

    def __init__(self, active: set[str], fail: tuple[str, ...] = ()) -> None:
        self.active = active
        self.fail = fail
        self.ran: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        argv = tuple(argv)
        self.ran.append(argv)
        if argv == self.fail:
            return CommandResult(1, "Failed to disable unit: Access denied")
        if argv[:2] == ("systemctl", "is-active"):
            return CommandResult(0 if argv[-1] in self.active else 3, "")
        return CommandResult(0, "")


def adopt(root: Path, runner: Recorder, choices: Choices | None = None) -> Journal:
    machine = Machine(root, "linux", runner)
    setup, _ = detect(Machine(root, "linux", None), choices or Choices(docker_binary="/nk/sn"))
    identity = choose_identity(candidates(setup, False), machine.read_bytes)
    plan = build_plan(setup, identity, "sn", CONFIG, "linux")
    journal = Journal(journal_path(machine.path(CONFIG)), "sn", CONFIG)
    Executor(machine, say=lambda line: None).apply(plan, journal)
    return journal


def test_units_are_disabled_updater_first_and_undo_starts_only_what_ran(tmp_path: Path) -> None:
    systemd_root(tmp_path)
    runner = Recorder(active={"storagenode.service"})
    journal = adopt(tmp_path, runner)
    changes = [argv for argv in runner.ran if "is-active" not in argv]
    assert changes == [
        ("systemctl", "disable", "--now", "storagenode-updater.service"),
        ("systemctl", "disable", "--now", "storagenode.service"),
    ]
    runner.ran.clear()
    Executor(Machine(tmp_path, "linux", runner), say=lambda line: None).undo(journal)
    assert ("systemctl", "start", "storagenode.service") in runner.ran
    assert ("systemctl", "start", "storagenode-updater.service") not in runner.ran
    link = tmp_path / "etc/systemd/system/multi-user.target.wants/storagenode.service"
    assert os.readlink(link) == "/lib/systemd/system/storagenode.service"
    assert not journal.path.exists()


def test_a_failed_step_says_how_to_undo_and_the_journal_has_what_was_done(
    tmp_path: Path,
) -> None:
    systemd_root(tmp_path)
    runner = Recorder(set(), fail=("systemctl", "disable", "--now", "storagenode.service"))
    with pytest.raises(AdoptFailed, match="init --undo"):
        adopt(tmp_path, runner)
    journal = Journal.load(journal_path(tmp_path / CONFIG.lstrip("/")))
    assert [s["kind"] for s in journal.steps] == ["write-config", "systemd-unit", "systemd-unit"]
    # nodekeeper's service was never registered: the old node still holds the identity.
    assert not (tmp_path / "etc/systemd/system/nodekeeper-sn.service").exists()
    Executor(Machine(tmp_path, "linux", Recorder(set())), say=lambda line: None).undo(journal)
    assert not (tmp_path / CONFIG.lstrip("/")).exists()


def test_container_gets_its_restart_policy_back_and_is_started(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    _, inspect = docker_root(root)
    runner = Recorder(set())
    journal = adopt(root, runner, Choices(inspect_file=str(inspect), docker_binary="/nk/sn"))
    assert runner.ran == [
        ("docker", "cp", "storagenode:/app/storagenode", str(root / "nk/sn")),
        ("docker", "update", "--restart=no", "storagenode"),
        ("docker", "stop", "--time", "300", "storagenode"),
    ]
    runner.ran.clear()
    Executor(Machine(root, "linux", runner), say=lambda line: None).undo(journal)
    assert runner.ran == [
        ("docker", "update", "--restart=unless-stopped", "storagenode"),
        ("docker", "start", "storagenode"),
    ]


def test_windows_services_are_found_through_the_sc_seam(tmp_path: Path) -> None:
    from tests.fixtures.storj_identity import make_identity
    from tests.unit.adopt.test_adopt_readers import SC_QC, SC_QUERY

    def sc(argv: Sequence[str]) -> CommandResult:
        name = argv[2]
        qc = SC_QC.replace("SERVICE_NAME: storagenode", f"SERVICE_NAME: {name}")
        if argv[1] == "qc":
            return CommandResult(0, qc)
        return CommandResult(0, SC_QUERY)

    machine = Machine(tmp_path, "windows", sc)
    # Windows paths land under the test root as they are spelled.
    install = "C:\\Program Files\\Storj\\Storage Node"
    identity = "C:\\Users\\sno\\AppData\\Roaming\\Storj\\Identity\\storagenode"
    make_identity(tmp_path / "id")
    for name in ("identity.cert", "identity.key"):
        (tmp_path / "id" / name).rename(machine.path(f"{identity}\\{name}"))
    machine.path(f"{install}\\config.yaml").write_text(
        f"identity.cert-path: {identity}\\identity.cert\n"
        f"identity.key-path: {identity}\\identity.key\n"
        f"log.output: winfile:///{install}\\storagenode.log\n"
    )

    setup, _ = detect(machine, Choices())

    assert setup.kind == "windows"
    assert setup.config_dir == install
    assert [(h.name, h.role) for h in setup.handover] == [
        ("storagenode-updater", "updater"),
        ("storagenode", "node"),
    ]
    found = choose_identity(candidates(setup, windows=True), machine.read_bytes)
    assert found.where == "identity.cert-path in config.yaml"
    assert found.directory == identity
