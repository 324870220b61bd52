"""`nodekeeper release mirror storj` against a stand-in for Storj's servers on 127.0.0.1.

The mirror runs as a real process; what it publishes is read back the way
nodes read it: python-tuf through a real nginx.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.platform.ids import platform_id
from nodekeeper.core.update.channel import Channel, Release
from nodekeeper.core.update.decision import decide
from nodekeeper.core.update.rollout import percent_to_cursor
from nodekeeper.core.update.sources.storj import parse_version_document
from nodekeeper.core.update.sources.tuf import TufSource
from nodekeeper.core.update.version import Version
from tests.fixtures.nginx import NginxServer
from tests.fixtures.releases import tree_hashes
from tests.fixtures.storj_upstream import StorjUpstream, storj_upstream
from tests.helpers import REPO, run_cli, wait_until

# This machine's platform first: it is the one whose binary is run (`storagenode version`).
LOCAL = platform_id()
PLATFORMS = ",".join(dict.fromkeys([LOCAL, "linux-amd64", "windows-amd64", "linux-arm64"]))


def nk(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli("release", *args, timeout=120, check=check)


class Mirror:
    def __init__(self, root: Path, upstream: StorjUpstream) -> None:
        self.repo = root / "repo"
        self.keys = root / "keys.json"
        self.upstream = upstream
        nk("init", self.repo, "--key-file", self.keys)

    def args(self, *extra: str | Path) -> list[str | Path]:
        return [
            "mirror",
            "storj",
            self.repo,
            "--from",
            self.upstream.url,
            "--platforms",
            PLATFORMS,
            "--key-file",
            self.keys,
            "--allow-http",
            *extra,
        ]

    def run(self, *extra: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return nk(*self.args(*extra), check=check)

    def published(self) -> dict[str, str]:
        """The repository as nodes see it (the mirror's private work folder left out)."""
        return {k: v for k, v in tree_hashes(self.repo).items() if not k.startswith("mirror/")}

    def audit(self) -> list[dict[str, Any]]:
        path = self.repo / "mirror" / "storj-audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[StorjUpstream]:
    with storj_upstream(tmp_path / "upstream") as server:
        server.minimum, server.suggested = "1.1.0", "1.2.0"
        yield server


@pytest.fixture
def mirror(tmp_path: Path, upstream: StorjUpstream) -> Mirror:
    return Mirror(tmp_path, upstream)


@pytest.fixture
def node_view(
    mirror: Mirror, nginx: Callable[[Path], NginxServer], tmp_path: Path
) -> Callable[[], TufSource]:
    """A node's TUF client of the mirror; it keeps its metadata between calls."""
    server = nginx(mirror.repo)

    def make() -> TufSource:
        return TufSource(
            url=server.url,
            trusted_root=mirror.repo / "metadata" / "1.root.json",
            metadata_dir=tmp_path / "node" / "tuf",
            process="storagenode",
            allow_http=True,
        )

    return make


def upstream_channel(upstream: StorjUpstream) -> Channel:
    return parse_version_document(upstream.document(), "storagenode")


def same_decisions(mirrored: Channel, upstream: Channel) -> None:
    """A node on either channel decides the same, whatever its id and version."""
    rng = random.Random(7)
    for _ in range(200):
        node_id = rng.randbytes(32)
        for current in ("1.0.0", "1.1.0", "1.2.0", "1.3.0"):
            kwargs: dict[str, Any] = {
                "current": Version.parse(current),
                "node_id": node_id,
                "quarantined": (),
                "installed": (),
                "enabled": True,
            }
            assert decide(channel=mirrored, **kwargs) == decide(channel=upstream, **kwargs)


def test_first_mirror_publishes_what_upstream_lists(
    mirror: Mirror, upstream: StorjUpstream, node_view: Callable[[], TufSource], tmp_path: Path
) -> None:
    upstream.rollout_percent = 50
    out = mirror.run().stdout
    assert "mirrored storagenode/1.2.0/linux-amd64.zip" in out
    source = node_view()
    channel = source.fetch_channel()
    assert channel.minimum is not None and channel.minimum.version == "1.1.0"
    assert channel.suggested is not None and channel.suggested.version == "1.2.0"
    assert channel.rollout.seed.hex() == upstream.seed
    assert channel.rollout.cursor == percent_to_cursor(50)
    same_decisions(channel, upstream_channel(upstream))
    for version in ("1.1.0", "1.2.0"):
        for platform in PLATFORMS.split(","):
            os_name, arch = platform.split("-")
            info = source.artifact_info(f"storagenode/{version}/{{os}}-{{arch}}.zip", os_name, arch)
            path = source.download(info, tmp_path / "node" / "downloads", min_free_space=0)
            assert path.read_bytes() == upstream.asset(version, platform)
    mirrored = [e for e in mirror.audit() if e["event"] == "mirrored"]
    assert len(mirrored) == 2 * len(PLATFORMS.split(",")) and all(
        len(e["sha256"]) == 64 for e in mirrored
    )


def test_second_run_without_change_publishes_nothing(mirror: Mirror) -> None:
    mirror.run()
    before = tree_hashes(mirror.repo)
    out = mirror.run().stdout
    assert "up to date: nothing published" in out
    assert tree_hashes(mirror.repo) == before


def test_new_suggested_rolls_out_at_10_then_100_percent(
    mirror: Mirror, upstream: StorjUpstream, node_view: Callable[[], TufSource]
) -> None:
    mirror.run()
    node_view().fetch_channel()
    upstream.minimum, upstream.suggested, upstream.rollout_percent = "1.2.0", "1.3.0", 10
    mirror.run()
    channel = node_view().fetch_channel()
    assert channel.suggested is not None and channel.suggested.version == "1.3.0"
    assert channel.rollout.cursor == percent_to_cursor(10)
    same_decisions(channel, upstream_channel(upstream))
    before = {k for k in mirror.published() if k.startswith("targets/storagenode/")}
    upstream.rollout_percent = 100
    out = mirror.run().stdout
    assert "rollout 100.00%" in out and "mirrored" not in out
    channel = node_view().fetch_channel()
    assert channel.rollout.cursor == b"\xff" * 32
    same_decisions(channel, upstream_channel(upstream))
    # Only the channel changed: no artifact was fetched into the repository again.
    assert {k for k in mirror.published() if k.startswith("targets/storagenode/")} == before


def test_swapped_bytes_of_a_mirrored_version_are_refused_loudly(
    mirror: Mirror, upstream: StorjUpstream, node_view: Callable[[], TufSource]
) -> None:
    mirror.run()
    channel = node_view().fetch_channel()
    before = mirror.published()
    evil = bytearray(upstream.asset("1.2.0", "linux-amd64"))
    evil[-30] ^= 0xFF
    upstream.assets[("1.2.0", "linux-amd64")] = bytes(evil)
    # A change that would publish, while 1.2.0 stays listed (now as the minimum).
    upstream.minimum, upstream.suggested = "1.2.0", "1.3.0"
    result = mirror.run(check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "REFUSED" in lines[0] and "storagenode 1.2.0 linux-amd64" in lines[0]
    assert "nothing published" in lines[0]
    assert mirror.published() == before
    assert node_view().fetch_channel() == channel
    refused = [e for e in mirror.audit() if e["event"] == "refused"]
    assert [e["path"] for e in refused] == ["storagenode/1.2.0/linux-amd64.zip"]
    # It stays refused on every later run until upstream serves the mirrored bytes again.
    assert mirror.run(check=False).returncode == 1
    del upstream.assets[("1.2.0", "linux-amd64")]
    mirror.run()
    assert node_view().fetch_channel().suggested == Release(
        "1.3.0", "storagenode/1.3.0/{os}-{arch}.zip"
    )


def test_lower_suggested_is_mirrored_as_is(
    mirror: Mirror, upstream: StorjUpstream, node_view: Callable[[], TufSource]
) -> None:
    upstream.suggested = "1.3.0"
    mirror.run()
    assert node_view().fetch_channel().suggested.version == "1.3.0"  # type: ignore[union-attr]
    upstream.suggested = "1.2.0"
    mirror.run()
    channel = node_view().fetch_channel()
    assert channel.suggested is not None and channel.suggested.version == "1.2.0"
    same_decisions(channel, upstream_channel(upstream))
    # The higher version stays published (its bytes never change), only unsuggested.
    assert any("storagenode/1.3.0/" in k for k in mirror.published())


def _zip_with(*names: str) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            zf.writestr(name, b"#!/bin/sh\necho Version: v1.3.0\n")
    return buffer.getvalue()


GARBAGE: dict[str, Callable[[StorjUpstream], None]] = {
    "version server sends html": lambda u: setattr(u, "document_override", b"<html>oops</html>"),
    "version server sends a bad version": lambda u: setattr(
        u, "document_override", json.dumps({"processes": {"storagenode": {}}}).encode()
    ),
    "asset is not a zip": lambda u: u.assets.__setitem__(("1.3.0", "linux-amd64"), b"x" * 500),
    "zip holds two files": lambda u: u.assets.__setitem__(
        ("1.3.0", "windows-amd64"), _zip_with("storagenode.exe", "readme.txt")
    ),
    "zip holds the wrong binary": lambda u: u.assets.__setitem__(
        ("1.3.0", "linux-arm64"), _zip_with("storagenode-updater")
    ),
    "binary reports another version": lambda u: u.assets.__setitem__(
        ("1.3.0", LOCAL), u.asset("1.2.0", LOCAL)
    ),
    "asset missing": lambda u: setattr(
        u, "missing", {"/releases/download/v1.3.0/storagenode_linux_amd64.zip"}
    ),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_upstream_garbage_publishes_nothing(
    mirror: Mirror, upstream: StorjUpstream, case: str, tmp_path: Path
) -> None:
    mirror.run()
    before = mirror.published()
    upstream.suggested = "1.3.0"
    GARBAGE[case](upstream)
    result = mirror.run(check=False)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nodekeeper: "), result.stderr
    assert "nothing published" in lines[0]
    assert mirror.published() == before
    # Nothing half-downloaded is mistaken for a release later.
    assert not list((mirror.repo / "mirror" / "downloads").glob("*.zip"))


def test_pinned_hashes_must_match(mirror: Mirror, upstream: StorjUpstream, tmp_path: Path) -> None:
    import hashlib

    pins = tmp_path / "pins.txt"
    good = hashlib.sha256(upstream.asset("1.2.0", "linux-amd64")).hexdigest()
    pins.write_text(f"# pinned\n{'0' * 64}  storagenode/1.2.0/linux-amd64.zip\n")
    before = mirror.published()
    result = mirror.run("--pin", pins, check=False)
    assert result.returncode == 1 and "not the pinned" in result.stderr
    assert mirror.published() == before
    pins.write_text(f"{good}  storagenode/1.2.0/linux-amd64.zip\n")
    mirror.run("--pin", pins)
    pins.write_text("not a pin line\n")
    result = mirror.run("--pin", pins, check=False)
    assert result.returncode == 2 and f"{pins}:1:" in result.stderr


def test_dry_run_changes_nothing_and_needs_no_keys(mirror: Mirror, upstream: StorjUpstream) -> None:
    before = tree_hashes(mirror.repo)
    result = nk(*[a for a in mirror.args("--dry-run") if a not in ("--key-file", mirror.keys)])
    assert "storagenode/1.2.0/linux-amd64.zip: would mirror" in result.stdout
    assert tree_hashes(mirror.repo) == before
    assert not upstream.requests[1:]  # only the version document was read


def test_runs_with_only_the_online_keys(mirror: Mirror, upstream: StorjUpstream) -> None:
    root = json.loads((mirror.repo / "metadata" / "1.root.json").read_text())
    root_keys = set(root["signed"]["roles"]["root"]["keyids"])
    keys = json.loads(mirror.keys.read_text())
    keys["keys"] = {k: v for k, v in keys["keys"].items() if k not in root_keys}
    mirror.keys.write_text(json.dumps(keys))
    mirror.run()
    upstream.suggested = "1.3.0"
    mirror.run()
    # The command that does need the root key says which one is missing.
    result = nk("rotate-key", mirror.repo, "timestamp", "--key-file", mirror.keys, check=False)
    assert result.returncode == 1 and "root role" in result.stderr


def test_not_a_repository_is_one_line(tmp_path: Path, upstream: StorjUpstream) -> None:
    result = nk(
        "mirror", "storj", tmp_path / "nope", "--from", upstream.url, "--allow-http", check=False
    )
    assert result.returncode == 1 and "release init" in result.stderr
    result = nk("mirror", "storj", tmp_path, "--platforms", "linux-x86", check=False)
    assert result.returncode == 2 and "linux-x86" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_killed_at_random_points_leaves_a_consistent_repository(
    mirror: Mirror, upstream: StorjUpstream, nginx: Callable[[Path], NginxServer], tmp_path: Path
) -> None:
    import shutil

    mirror.run()
    server = nginx(mirror.repo)
    saved = tmp_path / "saved"
    for part in ("metadata", "targets", "mirror/storj-audit.jsonl"):
        copy = shutil.copytree if (mirror.repo / part).is_dir() else shutil.copy2
        (saved / part).parent.mkdir(parents=True, exist_ok=True)
        copy(mirror.repo / part, saved / part)

    def restore() -> None:
        for part in ("metadata", "targets"):
            shutil.rmtree(mirror.repo / part)
            shutil.copytree(saved / part, mirror.repo / part)
        shutil.copy2(saved / "mirror/storj-audit.jsonl", mirror.repo / "mirror/storj-audit.jsonl")

    def view(name: str) -> Channel:
        return TufSource(
            url=server.url,
            trusted_root=mirror.repo / "metadata" / "1.root.json",
            metadata_dir=tmp_path / "nodes" / name,
            process="storagenode",
            allow_http=True,
        ).fetch_channel()

    old = view("calibration")
    upstream.minimum, upstream.suggested, upstream.rollout_percent = "1.2.0", "1.3.0", 25
    new = parse_tuf_channel_of(upstream)
    command = [sys.executable, "-m", "nodekeeper.core", "release", *map(str, mirror.args())]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO, timeout=120)
    duration = time.monotonic() - started
    rng = random.Random()
    seen = {"old": 0, "new": 0}
    publishing = mirror.repo / "targets" / "storagenode" / "1.3.0"
    for trial in range(12):
        restore()
        assert view(f"node-{trial}") == old
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO
        )
        if trial % 2:
            # Anywhere in the run: start-up, download, checks, publishing, after.
            time.sleep(rng.uniform(0.3, 1.05) * duration)
        else:
            # In the middle of publishing: its first new file is being written.
            wait_until(
                lambda p=proc: publishing.exists() or p.poll() is not None, 60, "publishing", 0.001
            )
            time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # A node that knew the old state sees the old or the new one, never a mix.
        channel = view(f"node-{trial}")
        assert channel in (old, new), trial
        seen["new" if channel == new else "old"] += 1
        # The next run (a timer's) finishes the job from whatever the kill left behind.
        subprocess.run(command, check=True, capture_output=True, cwd=REPO, timeout=120)
        assert view(f"node-{trial}") == new
        logged = {(e["path"], e["sha256"]) for e in mirror.audit() if e["event"] == "mirrored"}
        targets = json.loads(max_targets(mirror.repo).read_text())["signed"]["targets"]
        published = {
            (p, info["hashes"]["sha256"]) for p, info in targets.items() if p.endswith(".zip")
        }
        assert published <= logged, trial
    print(f"\nrun takes {duration:.2f}s; states seen right after SIGKILL: {seen}")


def max_targets(repo: Path) -> Path:
    timestamp = json.loads((repo / "metadata" / "timestamp.json").read_text())
    snapshot_version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    snapshot = json.loads((repo / "metadata" / f"{snapshot_version}.snapshot.json").read_text())
    return (
        repo / "metadata" / f"{snapshot['signed']['meta']['targets.json']['version']}.targets.json"
    )


def parse_tuf_channel_of(upstream: StorjUpstream) -> Channel:
    from nodekeeper.core.release.channels import encode_channel
    from nodekeeper.core.release.mirror_plan import mirrored_channel
    from nodekeeper.core.update.sources.tuf import parse_channel

    return parse_channel(
        encode_channel(mirrored_channel(upstream_channel(upstream))), "storagenode"
    )


def test_redirect_to_plain_http_is_refused(tmp_path: Path, upstream: StorjUpstream) -> None:
    from nodekeeper.core.release.upstream import UpstreamRefused, upstream_session
    from tests.integration.update.test_storj_source import tls_redirector

    target = upstream.asset_template("1.2.0").format(os="linux", arch="amd64")
    with tls_redirector(tmp_path, target) as (url, cafile):
        session = upstream_session(allow_http=False)
        with pytest.raises(UpstreamRefused, match="which is not https"):
            session.get(url + "storagenode_linux_amd64.zip", timeout=10, verify=cafile)
        session.close()
    assert not [r for r in upstream.requests if r.startswith("/releases/")]
