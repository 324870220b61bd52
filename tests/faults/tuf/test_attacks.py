"""The TUF threat list against a real client, a real nginx mirror and real signatures.

Every test: the publisher's honest repository is copied to a mirror that
nginx serves; the attacker changes the mirror; the client must report ONE
line, install (download) nothing, and then accept the next honest publish
once the mirror is honest again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from nodekeeper.core.release.keys import ReleaseKey
from nodekeeper.core.release.keystore import FileKeyStore
from nodekeeper.core.update.download_policy import DownloadLimits
from nodekeeper.core.update.errors import UpdateError
from tests.fixtures.fault_server import FaultServer, Rule
from tests.fixtures.fault_server import fault_server as fault_server
from tests.fixtures.nginx import NginxServer
from tests.fixtures.releases import (
    Publisher,
    client,
    installed_files,
    mirror_of,
    now,
    update_once,
)


class Scene:
    def __init__(self, tmp_path: Path, nginx: Callable[[Path], NginxServer], **repo: int) -> None:
        self.publisher = Publisher(tmp_path / "publisher", **repo)
        self.mirror = tmp_path / "mirror"
        self.data_dir = tmp_path / "node"
        self.publisher.release("1.2.0")
        self.sync()
        self.server = nginx(self.mirror)

    def sync(self) -> None:
        mirror_of(self.publisher.repo_dir, self.mirror)

    def update(self, limits: DownloadLimits | None = None) -> tuple[str, Path]:
        source = client(self.server.url, self.publisher, self.data_dir, limits=limits)
        return update_once(source, self.data_dir)

    def meta(self, name: str) -> Path:
        return self.mirror / "metadata" / name

    def latest(self, role: str) -> Path:
        files = sorted(
            self.mirror.glob(f"metadata/*.{role}.json"), key=lambda p: int(p.name.split(".")[0])
        )
        return files[-1]

    def assert_refused(self, *, match: str, before: list[str]) -> str:
        with pytest.raises(UpdateError, match=match) as info:
            self.update()
        message = str(info.value)
        assert "\n" not in message and message
        assert installed_files(self.data_dir) == before, "nothing new may be installed"
        return message

    def assert_honest_publish_accepted(self, version: str = "1.4.0") -> None:
        self.publisher.release(version)
        self.sync()
        got, path = self.update()
        assert got == version
        assert path.is_file()


@pytest.fixture
def scene(tmp_path: Path, nginx: Callable[[Path], NginxServer]) -> Scene:
    return Scene(tmp_path, nginx)


def test_tampered_artifact_is_discarded(scene: Scene) -> None:
    scene.publisher.release("1.3.0")
    scene.sync()
    artifact = next(scene.mirror.glob("targets/storagenode/1.3.0/*.linux-amd64.zip"))
    data = bytearray(artifact.read_bytes())
    data[-30] ^= 0xFF  # same length, one flipped byte
    artifact.write_bytes(bytes(data))
    message = scene.assert_refused(match="SHA-256 does not match", before=[])
    assert "discarded" in message
    assert not list((scene.data_dir / "downloads").glob("*.part"))
    scene.assert_honest_publish_accepted()


def test_tampered_channel_file_is_refused(scene: Scene) -> None:
    channel = next(scene.mirror.glob("targets/channels/*.storagenode.json"))
    doc = json.loads(channel.read_bytes())
    doc["suggested"]["version"] = "9.9.9"
    channel.write_bytes(json.dumps(doc).encode())
    scene.assert_refused(match="mismatch", before=[])
    scene.assert_honest_publish_accepted()


def test_timestamp_rollback_is_refused(scene: Scene) -> None:
    old_timestamp = scene.meta("timestamp.json").read_bytes()
    scene.publisher.release("1.3.0")
    scene.sync()
    before = [scene.update()[1].name]
    scene.meta("timestamp.json").write_bytes(old_timestamp)
    scene.assert_refused(match="rollback refused", before=before)
    scene.assert_honest_publish_accepted()


def test_snapshot_rollback_is_refused(scene: Scene) -> None:
    old_snapshot = scene.latest("snapshot").read_bytes()
    scene.publisher.release("1.3.0")
    scene.sync()
    # The attacker serves the old (validly signed) snapshot where the new one should be.
    scene.latest("snapshot").write_bytes(old_snapshot)
    scene.assert_refused(match="mismatch|rollback", before=[])
    scene.assert_honest_publish_accepted()


def test_targets_rollback_is_refused(scene: Scene) -> None:
    old_targets = scene.latest("targets").read_bytes()
    scene.publisher.release("1.3.0")
    scene.sync()
    scene.latest("targets").write_bytes(old_targets)
    scene.assert_refused(match="mismatch|rollback", before=[])
    scene.assert_honest_publish_accepted()


def test_expired_timestamp_freeze_is_refused(scene: Scene) -> None:
    # A validly signed timestamp whose validity ended yesterday: what a mirror that
    # stopped updating (or an attacker replaying old metadata) serves.
    scene.publisher.open().refresh(now() - timedelta(days=2))
    scene.sync()
    scene.assert_refused(match="expired", before=[])
    scene.assert_honest_publish_accepted()


def test_mix_and_match_targets_from_another_history_is_refused(
    scene: Scene, tmp_path: Path
) -> None:
    # A fork of the repository signs its own next targets with the same version
    # number; mixing it with the honest snapshot must fail on the hash.
    fork = tmp_path / "fork"
    mirror_of(scene.publisher.repo_dir, fork)
    scene.publisher.channel(rollout_percent=50.0)
    scene.sync()
    from nodekeeper.core.release.repository import Repository

    forked = Repository.load(fork, FileKeyStore(scene.publisher.key_file))
    forked.add_targets({"channels/storagenode.json": b'{"forked": true}\n'}, now())
    honest_version = scene.latest("targets").name
    forked_file = fork / "metadata" / honest_version
    assert forked_file.exists(), "the fork must have produced a same-numbered targets file"
    scene.latest("targets").write_bytes(forked_file.read_bytes())
    scene.assert_refused(match="mismatch", before=[])
    scene.assert_honest_publish_accepted()


def test_endless_metadata_is_cut_off(scene: Scene) -> None:
    ts = scene.meta("timestamp.json")
    ts.write_bytes(ts.read_bytes() + b" " * 5_000_000)
    scene.assert_refused(match="too much data", before=[])
    scene.assert_honest_publish_accepted()


@pytest.mark.parametrize("announced", [False, True], ids=["no-length", "lying-length"])
def test_endless_artifact_is_cut_off_and_discarded(
    scene: Scene, fault_server: FaultServer, announced: bool
) -> None:
    scene.publisher.release("1.3.0")
    mirror_of(scene.publisher.repo_dir, fault_server.root)
    fault_server.rules[".linux-amd64.zip"] = Rule(
        extra_bytes=20_000_000, announce_extra=announced, honour_range=False
    )
    source = client(fault_server.url, scene.publisher, scene.data_dir)
    with pytest.raises(UpdateError, match="more than") as info:
        update_once(source, scene.data_dir)
    assert "\n" not in str(info.value)
    assert installed_files(scene.data_dir) == []
    assert not list((scene.data_dir / "downloads").glob("*.part"))
    # The client stopped reading long before the 20 MB of junk were through.
    assert fault_server.bytes_sent(".linux-amd64.zip") < 10_000_000
    fault_server.rules.clear()
    version, _ = update_once(
        client(fault_server.url, scene.publisher, scene.data_dir), scene.data_dir
    )
    assert version == "1.3.0"


SLOW = DownloadLimits(connect_timeout=2, read_timeout=2, min_rate=2000, rate_window=1.0)


def test_trickling_metadata_is_abandoned(scene: Scene, fault_server: FaultServer) -> None:
    mirror_of(scene.publisher.repo_dir, fault_server.root)
    fault_server.rules["timestamp.json"] = Rule(trickle_delay=0.05)
    source = client(fault_server.url, scene.publisher, scene.data_dir, limits=SLOW)
    with pytest.raises(UpdateError, match="too slow"):
        update_once(source, scene.data_dir)
    assert installed_files(scene.data_dir) == []
    fault_server.rules.clear()
    assert (
        update_once(client(fault_server.url, scene.publisher, scene.data_dir), scene.data_dir)[0]
        == "1.2.0"
    )


def test_trickling_artifact_is_abandoned_then_resumed(
    scene: Scene, fault_server: FaultServer
) -> None:
    scene.publisher.add("1.3.0", content=b"x" * 200_000)
    scene.publisher.channel(suggested="1.3.0", rollout_percent=100.0)
    mirror_of(scene.publisher.repo_dir, fault_server.root)
    fault_server.rules[".linux-amd64.zip"] = Rule(trickle_delay=0.01)
    source = client(fault_server.url, scene.publisher, scene.data_dir, limits=SLOW)
    with pytest.raises(UpdateError, match="too slow") as info:
        update_once(source, scene.data_dir)
    assert "\n" not in str(info.value)
    assert installed_files(scene.data_dir) == []
    kept = sum(p.stat().st_size for p in (scene.data_dir / "downloads").glob("*.part"))
    assert kept > 0, "the bytes already received are kept for resuming"
    fault_server.rules.clear()
    version, path = update_once(
        client(fault_server.url, scene.publisher, scene.data_dir), scene.data_dir
    )
    assert version == "1.3.0" and path.is_file()
    assert fault_server.requests[-1].range == f"bytes={kept}-"


def _root_signed_by(
    scene: Scene, signers: list[ReleaseKey], new_root_keys: list[ReleaseKey]
) -> bytes:
    """Version 2 of the root, rotating the root keys, signed by ``signers`` only."""
    root = Metadata.from_file(str(scene.publisher.repo_dir / "metadata" / "1.root.json"))
    for keyid in list(root.signed.roles["root"].keyids):
        root.signed.revoke_key(keyid, "root")
    for key in new_root_keys:
        root.signed.add_key(key.public_key, "root")
    root.signed.version = 2
    root.signatures.clear()
    for key in signers:
        root.sign(key.signer(), append=True)
    return root.to_bytes()


def _root_keys(scene: Scene) -> list[ReleaseKey]:
    store = FileKeyStore(scene.publisher.key_file)
    root = scene.publisher.open().root.signed
    return [k for k in (store.get(i) for i in root.roles["root"].keyids) if k is not None]


def test_root_rotation_signed_by_old_and_new_keys_is_accepted(scene: Scene) -> None:
    scene.update()
    scene.publisher.open().rotate_key("root", now())
    scene.publisher.open().rotate_key("timestamp", now())
    scene.assert_honest_publish_accepted("1.3.0")
    assert (scene.data_dir / "tuf" / "root_history" / "3.root.json").is_file()


def test_root_rotation_signed_by_new_keys_only_is_refused(scene: Scene) -> None:
    new = ReleaseKey.generate()
    scene.meta("2.root.json").write_bytes(_root_signed_by(scene, [new], [new]))
    scene.assert_refused(match="signature check failed", before=[])
    (scene.mirror / "metadata" / "2.root.json").unlink()
    scene.publisher.open().rotate_key("root", now())
    scene.assert_honest_publish_accepted()


def test_root_below_two_of_three_threshold_is_refused(
    tmp_path: Path, nginx: Callable[[Path], NginxServer]
) -> None:
    scene = Scene(tmp_path, nginx, root_keys=3, threshold=2)
    old = _root_keys(scene)
    assert len(old) == 3
    scene.meta("2.root.json").write_bytes(_root_signed_by(scene, [old[0]], old))
    scene.assert_refused(match="signature check failed", before=[])
    (scene.mirror / "metadata" / "2.root.json").unlink()
    scene.publisher.open().rotate_key("root", now(), old_keyid=old[0].keyid)
    scene.assert_honest_publish_accepted()


def test_artifact_for_another_platform_only_is_refused(scene: Scene) -> None:
    scene.publisher.add("1.3.0", "darwin-arm64")
    scene.publisher.channel(suggested="1.3.0", rollout_percent=100.0)
    scene.sync()
    scene.assert_refused(match="no signed artifact for linux-amd64", before=[])
    scene.assert_honest_publish_accepted()


def test_artifact_swapped_between_platforms_is_discarded(scene: Scene) -> None:
    scene.publisher.add("1.3.0", "linux-arm64")
    scene.publisher.release("1.3.0")
    scene.sync()
    arm = next(scene.mirror.glob("targets/storagenode/1.3.0/*.linux-arm64.zip"))
    amd = next(scene.mirror.glob("targets/storagenode/1.3.0/*.linux-amd64.zip"))
    amd.write_bytes(arm.read_bytes())
    scene.assert_refused(match="does not match|mismatch|expected", before=[])
    scene.assert_honest_publish_accepted()


@pytest.mark.parametrize("status", [404, 500])
@pytest.mark.parametrize("target", ["timestamp.json", ".snapshot.json", ".linux-amd64.zip"])
def test_mirror_error_status_is_reported(
    scene: Scene, fault_server: FaultServer, status: int, target: str
) -> None:
    scene.publisher.release("1.3.0")
    mirror_of(scene.publisher.repo_dir, fault_server.root)
    fault_server.rules[target] = Rule(status=status)
    source = client(fault_server.url, scene.publisher, scene.data_dir)
    with pytest.raises(UpdateError) as info:
        update_once(source, scene.data_dir)
    message = str(info.value)
    assert "\n" not in message and str(status) in message
    assert installed_files(scene.data_dir) == []
    fault_server.rules.clear()
    source = client(fault_server.url, scene.publisher, scene.data_dir)
    assert update_once(source, scene.data_dir)[0] == "1.3.0"
