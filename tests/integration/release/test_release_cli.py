"""`nodekeeper release ...` as a publisher runs it, and a node reading the result."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from nodekeeper.core.update.sources.tuf import TufSource
from tests.fixtures.nginx import NginxServer
from tests.fixtures.releases import make_zip, tree_hashes
from tests.helpers import release_serve, run_cli


def nk(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli("release", *args, check=check)


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp_path = tmp_path_factory.mktemp("published")
    repo, keys = tmp_path / "repo", tmp_path / "keys.json"
    out = nk("init", repo, "--key-file", keys).stdout
    assert str((repo / "metadata" / "1.root.json").resolve()) in out
    assert (os.stat(keys).st_mode & 0o777) == 0o600
    for version in ("1.2.0", "1.3.0"):
        archive = make_zip(tmp_path / f"{version}.zip", content=f"binary {version}".encode())
        nk(
            "add",
            repo,
            "--version",
            version,
            "--platform",
            "linux-amd64",
            "--file",
            archive,
            "--key-file",
            keys,
        )
    nk(
        "channel",
        repo,
        "--minimum",
        "1.2.0",
        "--suggested",
        "1.3.0",
        "--rollout",
        "50",
        "--key-file",
        keys,
    )
    return repo, keys


@pytest.fixture
def published(published_once: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the published repository and its keys."""
    import shutil

    repo, keys = tmp_path / "repo", tmp_path / "keys.json"
    shutil.copytree(published_once[0], repo)
    shutil.copy2(published_once[1], keys)
    return repo, keys


def test_published_channel_and_artifact_reach_a_node(
    published: tuple[Path, Path], tmp_path: Path, nginx: Callable[[Path], NginxServer]
) -> None:
    repo, keys = published
    nk("refresh", repo, "--key-file", keys)
    nk("rotate-key", repo, "root", "--key-file", keys)
    nk("rotate-key", repo, "snapshot", "--key-file", keys)
    server = nginx(repo)
    source = TufSource(
        url=server.url,
        trusted_root=repo / "metadata" / "1.root.json",
        metadata_dir=tmp_path / "node" / "tuf",
        process="storagenode",
        allow_http=True,
    )
    channel = source.fetch_channel()
    assert channel.minimum is not None and channel.minimum.version == "1.2.0"
    assert channel.suggested is not None and channel.suggested.version == "1.3.0"
    assert (
        channel.rollout.cursor.hex()
        == "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffb1e20"
    )
    info = source.artifact_info(channel.suggested.url, "linux", "amd64")
    path = source.download(info, tmp_path / "node" / "downloads", min_free_space=0)
    import zipfile

    with zipfile.ZipFile(path) as zf:
        assert zf.read("storagenode") == b"binary 1.3.0"


def test_unchanged_check_fetches_only_timestamp_and_root_probe(
    published: tuple[Path, Path], tmp_path: Path, nginx: Callable[[Path], NginxServer]
) -> None:
    repo, _keys = published
    server = nginx(repo)

    def check() -> None:
        TufSource(
            url=server.url,
            trusted_root=repo / "metadata" / "1.root.json",
            metadata_dir=tmp_path / "tuf",
            process="storagenode",
            allow_http=True,
        ).fetch_channel()

    check()
    count = len(server.wait_log(1))
    server.wait_log(count + 100, timeout=0.3)
    server.clear_log()
    check()
    entries = server.wait_log(2)
    server.wait_log(3, timeout=0.3)
    entries = server.access_log()
    assert sorted(e.path for e in entries) == ["/metadata/2.root.json", "/metadata/timestamp.json"]
    assert [e.status for e in entries if e.path.endswith("root.json")] == [404]


def test_serve_command_serves_the_repository(published: tuple[Path, Path]) -> None:
    repo, _ = published
    with release_serve(repo) as url:
        response = requests.get(url + "metadata/timestamp.json", timeout=5)
        assert response.status_code == 200 and response.json()["signed"]["_type"] == "timestamp"
        assert response.headers["Cache-Control"] == "no-cache"
        assert (
            "immutable"
            in requests.get(url + "metadata/1.root.json", timeout=5).headers["Cache-Control"]
        )
        ranged = requests.get(
            url + "metadata/1.root.json", headers={"Range": "bytes=10-"}, timeout=5
        )
        assert ranged.status_code == 206
        assert ranged.content == (repo / "metadata" / "1.root.json").read_bytes()[10:]
        assert requests.get(url + "../keys.json", timeout=5).status_code == 404


MISUSE = {
    "missing key": lambda t: [
        "add",
        "--version",
        "1.4.0",
        "--platform",
        "linux-amd64",
        "--file",
        t / "ok.zip",
        "--key-file",
        t / "other-keys.json",
    ],
    "bad version": lambda t: [
        "add",
        "--version",
        "1.4",
        "--platform",
        "linux-amd64",
        "--file",
        t / "ok.zip",
        "--key-file",
        t / "keys.json",
    ],
    "missing file": lambda t: [
        "add",
        "--version",
        "1.4.0",
        "--platform",
        "linux-amd64",
        "--file",
        t / "nope.zip",
        "--key-file",
        t / "keys.json",
    ],
    "wrong platform": lambda t: [
        "add",
        "--version",
        "1.4.0",
        "--platform",
        "linux-x86_64",
        "--file",
        t / "ok.zip",
        "--key-file",
        t / "keys.json",
    ],
    "lower suggested": lambda t: ["channel", "--suggested", "1.2.0", "--key-file", t / "keys.json"],
    "unpublished suggested": lambda t: [
        "channel",
        "--suggested",
        "9.0.0",
        "--key-file",
        t / "keys.json",
    ],
    "republish": lambda t: [
        "add",
        "--version",
        "1.3.0",
        "--platform",
        "linux-amd64",
        "--file",
        t / "ok.zip",
        "--key-file",
        t / "keys.json",
    ],
    "group-readable key file": lambda t: ["refresh", "--key-file", t / "open-keys.json"],
}


@pytest.mark.parametrize("case", sorted(MISUSE))
def test_publisher_misuse_is_one_line_and_changes_nothing(
    published: tuple[Path, Path], tmp_path: Path, case: str
) -> None:
    repo, keys = published
    make_zip(tmp_path / "ok.zip")
    (tmp_path / "open-keys.json").write_bytes(keys.read_bytes())
    os.chmod(tmp_path / "open-keys.json", 0o644)
    before = tree_hashes(repo)
    args = MISUSE[case](tmp_path)
    result = nk(args[0], repo, *args[1:], check=False)
    assert result.returncode in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nodekeeper"), result.stderr
    assert "Traceback" not in result.stderr
    assert tree_hashes(repo) == before


def test_lower_suggested_with_force_is_published(published: tuple[Path, Path]) -> None:
    repo, keys = published
    nk("channel", repo, "--suggested", "1.2.0", "--force", "--key-file", keys)
    out = nk("channel", repo, "--revoke", "1.3.0", "--key-file", keys).stdout
    doc = json.loads(out.split(": ", 1)[1])
    assert doc["suggested"]["version"] == "1.2.0" and doc["revoked"] == ["1.3.0"]
