"""A failing publish leaves the repository byte-for-byte as it was."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keystore import FileKeyStore
from nodekeeper.core.release.publish import write_durably
from nodekeeper.core.release.repository import Repository
from tests.fixtures.releases import Publisher, make_zip, now, tree_hashes


def _failing_after(n: int) -> tuple[list[Path], object]:
    written: list[Path] = []

    def writer(path: Path, data: bytes | Path) -> None:
        if len(written) == n:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        write_durably(path, data)

    return written, writer


@pytest.mark.parametrize("fail_at", [0, 1, 2, 3])
def test_failure_at_any_file_restores_the_repository(tmp_path: Path, fail_at: int) -> None:
    publisher = Publisher(tmp_path)
    publisher.release("1.2.0")
    before = tree_hashes(publisher.repo_dir)
    repo = Repository.load(publisher.repo_dir, FileKeyStore(publisher.key_file))
    written, writer = _failing_after(fail_at)
    repo.writer = writer  # type: ignore[assignment]
    archive = make_zip(tmp_path / "new.zip", content=b"new version")
    with pytest.raises(ReleaseError, match="No space left on device; the repository is unchanged"):
        repo.add_targets({"storagenode/1.3.0/linux-amd64.zip": archive}, now())
    assert len(written) == fail_at
    assert tree_hashes(publisher.repo_dir) == before
    # Directories created on the way are gone too, and nothing half-written is left.
    assert not (publisher.repo_dir / "targets" / "storagenode" / "1.3.0").exists()
    assert not list(publisher.repo_dir.rglob(".*.tmp"))


def test_failure_while_replacing_timestamp_restores_it(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    before = tree_hashes(publisher.repo_dir)
    repo = Repository.load(publisher.repo_dir, FileKeyStore(publisher.key_file))

    def writer(path: Path, data: bytes | Path) -> None:
        write_durably(path, data)
        if path.name == "timestamp.json":
            raise OSError(errno.EIO, "Input/output error", str(path))

    repo.writer = writer
    with pytest.raises(ReleaseError, match="unchanged"):
        repo.refresh(now())
    assert tree_hashes(publisher.repo_dir) == before


def test_second_publisher_is_turned_away_while_one_works(tmp_path: Path) -> None:
    from nodekeeper.core.release.publish import locked

    publisher = Publisher(tmp_path)
    with locked(publisher.repo_dir), pytest.raises(ReleaseError, match="another release command"):
        publisher.open().refresh(now())


def test_new_files_are_written_before_timestamp(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    repo = Repository.load(publisher.repo_dir, FileKeyStore(publisher.key_file))
    order: list[str] = []

    def writer(path: Path, data: bytes | Path) -> None:
        order.append(str(path.relative_to(publisher.repo_dir)))
        write_durably(path, data)

    repo.writer = writer
    repo.add_targets({"storagenode/1.3.0/linux-amd64.zip": make_zip(tmp_path / "a.zip")}, now())
    assert order[-1] == "metadata/timestamp.json"
    assert order[0].startswith("targets/storagenode/1.3.0/")
    assert order[1:3] == ["metadata/2.targets.json", "metadata/2.snapshot.json"]
