"""The core's own log through Python logging, under the same rules as the node's."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodekeeper.core.logs.corelog import CoreLogHandler, setup_core_logging
from tests.integration.logs.support import family_files, read_file, settings


@pytest.fixture
def clean_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield root
    for handler in list(root.handlers):
        if handler not in saved[0]:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved[1])


def test_core_log_file_gets_records_and_stderr_still_does(
    tmp_path: Path, clean_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    handler = setup_core_logging(settings(logs), "node1")
    assert isinstance(handler, CoreLogHandler)
    logging.getLogger("core.test").info("node started: pid %d", 4242)
    logging.getLogger("core.test").warning("two\nlines")
    handler.flush()
    text = (logs / "nodekeeper-node1.log").read_text()
    assert " INFO core.test: node started: pid 4242\n" in text
    assert text.endswith(" WARNING core.test: two\nlines\n")
    assert text[:4].isdigit() and "Z INFO" in text  # UTC timestamps
    assert "node started: pid 4242" in capsys.readouterr().err


def test_core_log_rotates_compresses_and_shares_the_instance_cap(
    tmp_path: Path, clean_root: logging.Logger
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    big_node_archive = logs / "node1-20000101T000000.000Z.log.gz"
    big_node_archive.write_bytes(b"\0" * 300_000)
    conf = settings(logs, max_file_size=20_000, max_total_size=200_000)
    handler = CoreLogHandler(conf, "node1")
    clean_root.addHandler(handler)
    clean_root.setLevel(logging.INFO)
    log = logging.getLogger("core.test")
    for i in range(3000):
        log.info("record %05d %s", i, "y" * 40)
    handler.flush()
    assert handler._compressor.wait_idle(30)
    handler.close()
    files = family_files(logs, "nodekeeper-node1")
    assert len(files) > 3 and all(f.name.endswith(".gz") for f in files[:-1])
    for archive in files[:-1]:
        gzip.decompress(archive.read_bytes())
    # The node's old archive counted against the shared cap and went first.
    assert not big_node_archive.exists()
    records = [line for f in files for line in read_file(f).splitlines()]
    numbers = [int(line.split(b"record ")[1][:5]) for line in records]
    assert numbers == list(range(numbers[0], 3000))
    assert sum(p.stat().st_size for p in logs.iterdir()) <= 200_000 + 20_000
