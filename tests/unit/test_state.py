"""state.json (core/state.py, `nodekeeper state`): strict, atomic, recoverable."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from nodekeeper.core.errors import StateError
from nodekeeper.core.state import SCHEMA, State, StateStore
from tests.helpers import REPO, run_cli, to_toml

PENDING = {"from": "1.2.2", "to": "1.3.0", "started": "2026-11-27T05:00:00Z"}


def sample() -> State:
    return State(
        current="1.3.0",
        previous="1.2.2",
        pending=dict(PENDING),
        quarantined=("1.3.1",),
        node_id="12vha9oTFnerxYRgeQ2BZqoFrLrnmmf5UWTCY2jA77dF1YvWew",
        updates_enabled=False,
        installed=("1.2.2", "1.3.0"),
    )


# --- the State value ----------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    state = sample()
    assert State.from_json(state.to_json()) == state
    assert json.loads(state.to_json())["schema"] == SCHEMA


def test_missing_optional_keys_read_as_defaults() -> None:
    assert State.from_json('{"schema": 1}') == State()


def test_unknown_keys_of_a_newer_release_are_kept() -> None:
    text = json.dumps({**State().to_dict(), "future_field": {"a": [1, 2]}})
    state = State.from_json(text)
    assert state.extra == {"future_field": {"a": [1, 2]}}
    assert json.loads(replace(state, current="1.0.0").to_json())["future_field"] == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "expected a JSON object"),
        ({}, "'schema' must be a positive integer"),
        ({"schema": "1"}, "'schema' must be a positive integer"),
        ({"schema": True}, "'schema' must be a positive integer"),
        ({"schema": 0}, "'schema' must be a positive integer"),
        ({"schema": 1, "current": 5}, "'current' must hold version strings"),
        ({"schema": 1, "previous": ""}, "'previous' must hold version strings"),
        ({"schema": 1, "quarantined": "1.3.1"}, "'quarantined' must be a list"),
        ({"schema": 1, "installed": [1]}, "'installed' must hold version strings"),
        ({"schema": 1, "node_id": 7}, "'node_id' must be a non-empty string"),
        ({"schema": 1, "updates_enabled": "no"}, "'updates_enabled' must be true, false or null"),
        ({"schema": 1, "pending": "1.3.0"}, "'pending' must be an object"),
        ({"schema": 1, "pending": {"from": "1", "started": "t"}}, "'pending.to'"),
        ({"schema": 1, "pending": {"to": "1.3.0", "from": None}}, "'pending.started'"),
        ({"schema": 1, "pending": {"to": "1.3.0", "from": 3, "started": "t"}}, "'pending.from'"),
    ],
)
def test_invalid_state_is_refused_with_the_reason(data: object, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        State.from_json(json.dumps(data))
    assert problem in str(caught.value)


def test_a_pending_switch_from_nothing_is_valid() -> None:
    pending = {"from": None, "to": "1.0.0", "started": "2026-11-27T05:00:00Z"}
    assert State(pending=pending).pending == pending


# --- the store ----------------------------------------------------------------


def test_missing_file_loads_the_default_state(tmp_path: Path) -> None:
    assert StateStore(tmp_path / "state.json").load() == State()


def test_saved_state_loads_back_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "data" / "state.json")
    store.save(sample())
    assert store.load() == sample()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["state.json"]


def test_each_save_keeps_the_previous_good_file_as_bak(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.update(current="1.0.0")
    store.update(current="1.1.0")
    assert store.load().current == "1.1.0"
    assert store.load_backup().current == "1.0.0"


def test_update_changes_only_the_named_fields(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.save(sample())
    state = store.update(updates_enabled=True)
    assert state == replace(sample(), updates_enabled=True) == store.load()


def test_update_refuses_invalid_values_and_keeps_the_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.save(sample())
    with pytest.raises(ValueError, match="'current'"):
        store.update(current=3)
    assert store.load() == sample()


def test_concurrent_modifications_are_never_lost(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    other = StateStore(tmp_path / "state.json")  # a second store on the same file

    def add(which: StateStore, prefix: str) -> None:
        for i in range(25):
            which.modify(lambda s, v=f"{prefix}.{i}": replace(s, quarantined=(*s.quarantined, v)))

    threads = [
        threading.Thread(target=add, args=(s, f"{n}")) for n, s in enumerate([store, other] * 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.load().quarantined) == 100
    assert len(set(store.load().quarantined)) == 100


def test_corrupt_file_names_the_problem_and_the_way_out(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json", config_path="/etc/nodekeeper/sn.toml")
    store.update(current="1.0.0")
    store.update(current="1.1.0")
    store.path.write_text('{"schema": 1, "curr')
    with pytest.raises(StateError) as caught:
        store.load()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{store.path} is corrupt (line 1 column")
    assert "the last good copy is " + str(store.backup_path) in message
    assert "nodekeeper state restore --config /etc/nodekeeper/sn.toml" in message


def test_corrupt_file_without_backup_says_to_move_it_aside(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.path.write_bytes(b"")
    with pytest.raises(StateError, match=r"there is no backup: move state\.json aside"):
        store.load()


def test_valid_json_of_the_wrong_shape_is_invalid_not_corrupt(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.path.write_text('{"schema": 1, "installed": "1.0.0"}')
    with pytest.raises(StateError, match=r"is invalid \('installed' must be a list"):
        store.load()


def test_newer_schema_is_refused_not_downgraded(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    newer = json.dumps({"schema": SCHEMA + 1, "current": "9.0.0", "new_thing": 1})
    store.path.write_text(newer)
    with pytest.raises(StateError, match=f"newer nodekeeper \\(state schema {SCHEMA + 1}"):
        store.load()
    with pytest.raises(StateError):
        store.update(current="1.0.0")
    assert store.path.read_text() == newer


def test_a_corrupt_file_never_overwrites_the_good_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.update(current="1.0.0")
    store.update(current="1.1.0")
    store.path.write_text("garbage")
    store.save(State(current="2.0.0"))  # a core that starts over after moving on
    assert store.load_backup().current == "1.0.0"


def test_restore_puts_the_backup_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.update(current="1.0.0")
    store.update(current="1.1.0")
    store.path.write_text("\0\0\0")
    assert store.restore_backup().current == "1.0.0"
    assert store.load().current == "1.0.0"
    assert store.load_backup().current == "1.0.0"


def test_restore_refuses_a_bad_or_missing_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    with pytest.raises(StateError, match="there is no backup"):
        store.restore_backup()
    store.backup_path.write_text("{")
    with pytest.raises(StateError, match=r"the backup .* is corrupt .*cannot be restored"):
        store.restore_backup()


# --- crashes: a writer killed at any instant ----------------------------------

WRITER = """
import sys
from nodekeeper.core.state import State, StateStore
store = StateStore(sys.argv[1])
i = 0
while True:
    store.save(State(current=f"1.0.{i}", installed=tuple(f"0.{j}.0" for j in range(i % 300)),
                     extra={"pad": "x" * (i * 7919 % 20000)}))
    print(i, flush=True)
    i += 1
"""


def test_writer_killed_at_any_instant_leaves_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    rng = random.Random(4242)
    seen: set[str | None] = set()
    for _ in range(25):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        try:
            assert writer.stdout is not None
            # Let it get a random number of saves in (however slow the machine is),
            # then kill it at a random instant of the next ones.
            for _ in range(rng.randint(1, 40)):
                assert writer.stdout.readline() != ""
            time.sleep(rng.uniform(0, 0.02))
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        store = StateStore(path)
        state = store.load()  # raises if the file is torn
        assert state.current is not None and state.current.startswith("1.0.")
        assert store.load_backup().current is not None
        seen.add(state.current)
    # The kills landed at different points, not always before or after the loop.
    assert len(seen) > 5


# --- the command line ---------------------------------------------------------


def nodekeeper(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "nk.toml"
    path.write_text(
        to_toml(
            {
                "instance": "statetest",
                "node": {"command": ["true"]},
                "paths": {"data_dir": str(tmp_path / "data"), "socket": str(tmp_path / "nk.sock")},
            }
        )
    )
    (tmp_path / "data").mkdir()
    return path


def test_state_show_prints_the_state_json(tmp_path: Path, config_file: Path) -> None:
    StateStore(tmp_path / "data" / "state.json").save(sample())
    result = nodekeeper("state", "show", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    assert State.from_json(result.stdout) == sample()


def test_state_show_of_a_corrupt_file_is_one_line_and_exit_2(
    tmp_path: Path, config_file: Path
) -> None:
    (tmp_path / "data" / "state.json").write_text("{")
    result = nodekeeper("state", "show", "--config", str(config_file))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "is corrupt" in result.stderr and "move state.json aside" in result.stderr


def test_state_restore_repairs_a_corrupt_file(tmp_path: Path, config_file: Path) -> None:
    store = StateStore(tmp_path / "data" / "state.json")
    store.save(sample())
    store.update(current="1.4.0")
    store.path.write_text("{")
    shown = nodekeeper("state", "show", "--config", str(config_file))
    assert f"run 'nodekeeper state restore --config {config_file}'" in shown.stderr
    result = nodekeeper("state", "restore", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    assert store.load() == sample()


def test_state_restore_refuses_while_a_core_holds_the_lock(
    tmp_path: Path, config_file: Path
) -> None:
    store = StateStore(tmp_path / "data" / "state.json")
    store.save(sample())
    store.update(current="1.4.0")
    store.path.write_text("{")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); os.write(fd, b'4242'); "
            "print('locked', flush=True); sys.stdin.read()",
            str(tmp_path / "data" / "core.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = nodekeeper("state", "restore", "--config", str(config_file))
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1
        assert "not restoring state" in result.stderr and "already running" in result.stderr
        assert store.path.read_text() == "{"
    finally:
        holder.kill()
        holder.wait()
    # Once the core is gone the restore goes through, and leaves the lock free.
    assert nodekeeper("state", "restore", "--config", str(config_file)).returncode == 0
    assert store.load() == sample()


def test_state_restore_without_backup_fails_cleanly(tmp_path: Path, config_file: Path) -> None:
    result = nodekeeper("state", "restore", "--config", str(config_file))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("to restore") and len(result.stderr.splitlines()) == 1


# --- full and read-only filesystems -------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of our own (1 MiB); skipped where mounting is not permitted."""
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_save_on_a_read_only_filesystem_fails_cleanly_and_keeps_the_file(tmpfs: Path) -> None:
    store = StateStore(tmpfs / "state.json")
    store.save(sample())
    before = store.path.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with pytest.raises(StateError) as caught:
        store.update(current="9.9.9")
    message = str(caught.value)
    assert message == (
        f"cannot save {store.path}: the filesystem is read-only; the previous state is unchanged"
    )
    assert store.path.read_bytes() == before
    assert store.load() == sample()


def test_save_on_a_full_disk_fails_cleanly_and_keeps_the_file(tmpfs: Path) -> None:
    store = StateStore(tmpfs / "state.json")
    store.save(sample())
    before = store.path.read_bytes()
    with open(tmpfs / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError:
            pass
    big = replace(sample(), extra={"pad": "x" * 200_000})
    with pytest.raises(
        StateError, match="no space left on the device; the previous state is unchanged"
    ):
        store.save(big)
    assert store.path.read_bytes() == before
    assert not [p for p in tmpfs.iterdir() if p.name.endswith(".tmp")]
    # Space comes back: saving works again.
    (tmpfs / "filler").unlink()
    store.save(big)
    assert store.load() == big
