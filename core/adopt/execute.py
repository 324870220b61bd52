"""Carrying out an adoption plan, and taking it back.

Every change goes through two seams: the filesystem under the root folder
(``/`` or ``--root``) and the command runner (``systemctl``, ``docker``,
``sc.exe``; none under ``--root``). Before each step the journal records
what was there; ``undo`` walks the journal backwards and restores it.
nodekeeper's own service is registered by ``nodekeeper service install``'s
code (:mod:`nodekeeper.core.startup`), called, not copied.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodekeeper.core import paths
from nodekeeper.core.adopt.detect import Machine
from nodekeeper.core.adopt.docker import NODE_BINARY
from nodekeeper.core.adopt.errors import AdoptFailed, AdoptUsageError
from nodekeeper.core.adopt.journal import Journal
from nodekeeper.core.adopt.model import AdoptPlan, Step
from nodekeeper.core.config.reader import config_from_dict
from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.startup.model import Command

if TYPE_CHECKING:
    from nodekeeper.core.startup.apply import Installer
    from nodekeeper.core.startup.plan import ServicePlan

SYSTEMD_CONFIG_DIR = "/etc/systemd/system"
DOCKER_STOP_TIMEOUT = "300"
# sc.exe exit codes that mean "already so".
SC_NOT_ACTIVE = 1062
SC_ALREADY_RUNNING = 1056
OK = frozenset({0})


def step_commands(step: Step) -> list[tuple[str, ...]]:
    """The commands a hand-over step runs (none under --root), in order."""
    if step.kind == "docker-binary":
        return [("docker", "cp", f"{step.before['container']}:{NODE_BINARY}", step.target)]
    if step.kind == "systemd-unit":
        return [("systemctl", "disable", "--now", step.target)]
    if step.kind == "docker-container":
        return [
            ("docker", "update", "--restart=no", step.target),
            ("docker", "stop", "--time", DOCKER_STOP_TIMEOUT, step.target),
        ]
    if step.kind == "windows-service":
        return [
            ("sc.exe", "config", step.target, "start=", "disabled"),
            ("sc.exe", "stop", step.target),
        ]
    return []


def _decode(content: str | None) -> bytes | None:
    return None if content is None else base64.b64decode(content)


def _remove_empty_dirs(folders: Sequence[str]) -> None:
    """The folders `init` created for the config, deepest first, if nothing else is in them."""
    for folder in folders:
        try:
            Path(folder).rmdir()
        except OSError:
            return


class Executor:
    """Applies or undoes one adoption; ``say`` gets one line per thing done."""

    def __init__(self, machine: Machine, say: Callable[[str], None] = print) -> None:
        self.machine = machine
        self.say = say

    # --- commands ----------------------------------------------------------

    def run(self, argv: Sequence[str], ok: frozenset[int] = frozenset({0})) -> int:
        rendered = Command(tuple(argv)).render(self.machine.os_name)
        if self.machine.runner is None:
            self.say(f"not run (--root): {rendered}")
            return 0
        try:
            result = self.machine.runner(argv)
        except NodekeeperError as exc:
            raise AdoptFailed(str(exc)) from None
        if result.returncode not in ok:
            detail = result.output.splitlines()[-1] if result.output else "no output"
            raise AdoptFailed(f"`{rendered}` failed with exit code {result.returncode}: {detail}")
        self.say(f"ran: {rendered}")
        return result.returncode

    def query(self, argv: Sequence[str]) -> int | None:
        """Exit code of a question such as `systemctl is-active`; None under --root."""
        if self.machine.runner is None:
            return None
        try:
            return self.machine.runner(argv).returncode
        except NodekeeperError:
            return None

    # --- apply ---------------------------------------------------------------

    def apply(self, plan: AdoptPlan, journal: Journal) -> None:
        for step in plan.steps:
            try:
                self._apply(plan, step, journal)
            except NodekeeperError as exc:
                raise AdoptFailed(
                    f"{step.what}: {exc} (run `nodekeeper init --undo` to take back what was done)"
                ) from None

    def _apply(self, plan: AdoptPlan, step: Step, journal: Journal) -> None:
        if step.kind == "write-config":
            path = self.machine.path(step.target)
            missing = [str(p) for p in path.parents if not p.exists()]
            journal.record(step.kind, step.target, {"content": None, "created_dirs": missing})
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, plan.config_text.encode())
            os.chmod(path, 0o644)
            self.say(f"wrote {path}")
        elif step.kind == "docker-binary":
            path = self.machine.path(step.target)
            journal.record(step.kind, step.target, {"existed": path.exists()})
            if self.machine.runner is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.run(("docker", "cp", f"{step.before['container']}:{NODE_BINARY}", str(path)))
        elif step.kind == "systemd-unit":
            active = self.query(("systemctl", "is-active", "--quiet", step.target))
            links = self._unit_links(step.target)
            journal.record(step.kind, step.target, {"links": links, "active": active == 0})
            for argv in step_commands(step):
                self.run(argv)
            for link, _ in links:
                self.machine.path(link).unlink(missing_ok=True)
            self.say(
                f"disabled {step.target}" + (f" ({len(links)} link(s) removed)" if links else "")
            )
        elif step.kind == "docker-container":
            journal.record(step.kind, step.target, step.before)
            for argv in step_commands(step):
                self.run(argv)
        elif step.kind == "windows-service":
            journal.record(step.kind, step.target, step.before)
            for argv in step_commands(step):
                self.run(argv, frozenset({0, SC_NOT_ACTIVE}) if argv[1] == "stop" else OK)
        elif step.kind == "nodekeeper-service":
            journal.record(step.kind, step.target, {})
            installer, note = self._installer(step.target)
            installer.install()
            if note:
                self.say(note)

    def _unit_links(self, unit: str) -> list[list[str]]:
        """Symlinks to ``unit`` in /etc/systemd/system: what `systemctl enable` made."""
        base = self.machine.path(SYSTEMD_CONFIG_DIR)
        found = []
        if not base.is_dir():
            return []
        for path in sorted(base.rglob("*")):
            if not path.is_symlink():
                continue
            target = os.readlink(path)
            if path.name == unit or target.rsplit("/", 1)[-1] == unit:
                relative = "/" + str(path.relative_to(base.parent.parent.parent))
                found.append([relative, target])
        return found

    # --- undo ----------------------------------------------------------------

    def undo(self, journal: Journal) -> None:
        for step in reversed(journal.steps):
            kind, target = str(step.get("kind")), str(step.get("target"))
            before = step.get("before")
            if not isinstance(before, dict):
                raise AdoptUsageError(f"{journal.path}: the step for {target} is damaged")
            try:
                self._undo(kind, target, before)
            except NodekeeperError as exc:
                raise AdoptFailed(
                    f"undo {kind} {target}: {exc} (fix it and run --undo again)"
                ) from None
            except OSError as exc:
                raise AdoptFailed(f"undo {kind} {target}: {exc.strerror or exc}") from None
        journal.path.unlink(missing_ok=True)
        self.say(f"removed {journal.path}")
        for step in journal.steps:
            if step.get("kind") == "write-config":
                _remove_empty_dirs(step.get("before", {}).get("created_dirs") or [])

    def _undo(self, kind: str, target: str, before: Mapping[str, Any]) -> None:
        if kind == "write-config":
            path = self.machine.path(target)
            content = _decode(before.get("content"))
            if content is None:
                path.unlink(missing_ok=True)
                self.say(f"removed {path}")
            else:
                write_atomic(path, content)
                self.say(f"restored {path}")
        elif kind == "docker-binary":
            path = self.machine.path(target)
            if not before.get("existed"):
                path.unlink(missing_ok=True)
                self.say(f"removed {path}")
        elif kind == "systemd-unit":
            for link, link_target in before.get("links") or []:
                path = self.machine.path(str(link))
                if not path.is_symlink():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(str(link_target), path)
                    self.say(f"restored link {path} -> {link_target}")
            self.run(("systemctl", "daemon-reload"))
            if before.get("active"):
                self.run(("systemctl", "start", target))
        elif kind == "docker-container":
            self.run(("docker", "update", f"--restart={before.get('restart') or 'no'}", target))
            if before.get("running"):
                self.run(("docker", "start", target))
        elif kind == "windows-service":
            self.run(("sc.exe", "config", target, "start=", str(before.get("start") or "demand")))
            if before.get("running"):
                self.run(("sc.exe", "start", target), frozenset({0, SC_ALREADY_RUNNING}))
        elif kind == "nodekeeper-service":
            if self.machine.path(target).is_file():
                installer, _ = self._installer(target)
                installer.uninstall()
        else:
            raise AdoptUsageError(f"unknown step {kind!r} in the journal")

    # --- nodekeeper's own service -------------------------------------------

    def service_plan(self, config_text: str, config_path: str) -> tuple[ServicePlan, bool, str]:
        """``service install``'s plan for the config ``init`` writes, and whether commands run."""
        from nodekeeper.core.startup import locate
        from nodekeeper.core.startup.plan import build_plan, commands_wanted, spec_from_config

        config = config_from_dict(tomllib.loads(config_text), self.machine.path(config_path))
        core = locate.core_command()
        spec = spec_from_config(config, core, locate.tray_command(core))
        # The service reads the config where it is on the target system, not under --root.
        spec = dataclasses.replace(spec, config_path=config_path)
        os_name = paths.current_os()
        run_commands, note = commands_wanted(
            os_name, self.machine.root is not None, locate.systemd_running()
        )
        return build_plan(os_name, spec), run_commands, note

    def _installer(self, config_path: str) -> tuple[Installer, str]:
        from nodekeeper.core.startup.apply import Installer

        text = self.machine.path(config_path).read_text(encoding="utf-8")
        plan, run_commands, note = self.service_plan(text, config_path)
        installer = Installer(plan, root=self.machine.root, run_commands=run_commands, say=self.say)
        return installer, note if self.machine.root is None else ""
