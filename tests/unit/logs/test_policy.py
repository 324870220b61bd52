from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nodekeeper.core.logs.policy import (
    ArchiveKey,
    LogFile,
    archive_name,
    bytes_before_rotation,
    format_marker,
    format_stamp,
    parse_archive,
    plan_prune,
)

NOW = 1_795_000_000.0  # 2026-11-17
DAY = 86400.0


def test_archive_name_carries_utc_time_with_milliseconds() -> None:
    assert format_stamp(0.0) == "19700101T000000.000Z"
    name = archive_name("storagenode", NOW + 0.25, [])
    assert name == f"storagenode-{format_stamp(NOW + 0.25)}.log"
    key, suffix = parse_archive("storagenode", name) or (None, None)
    assert key == ArchiveKey(NOW + 0.25, 0) and suffix == ""


def test_same_millisecond_gets_a_counter_and_sorts_after() -> None:
    first = archive_name("n", NOW, [])
    second = archive_name("n", NOW, [first + ".gz"])
    third = archive_name("n", NOW, [first + ".gz", second])
    keys = [parse_archive("n", name)[0] for name in (first, second, third)]  # type: ignore[index]
    assert len({first, second, third}) == 3
    assert keys == sorted(keys)


def test_clock_stepping_back_never_makes_an_older_looking_name() -> None:
    newest = archive_name("n", NOW, [])
    after_step_back = archive_name("n", NOW - 3600, [newest])
    assert parse_archive("n", after_step_back)[0] > parse_archive("n", newest)[0]  # type: ignore[index]


def test_names_of_other_families_are_not_archives() -> None:
    name = archive_name("node", NOW, [])
    assert parse_archive("node", name) is not None
    assert parse_archive("nodekeeper-node", name) is None
    assert parse_archive("node", "nodekeeper-" + name) is None
    assert parse_archive("node", "node.log") is None
    assert parse_archive("node", name + ".gz.tmp")[1] == ".gz.tmp"  # type: ignore[index]
    assert parse_archive("node", "node-20261399T000000.000Z.log") is None


@given(
    lines=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=30),
    current=st.integers(min_value=0, max_value=200),
    limit=st.integers(min_value=1, max_value=200),
)
def test_rotation_cut_is_always_on_a_line_boundary(
    lines: list[int], current: int, limit: int
) -> None:
    data = b"".join(b"x" * (n - 1) + b"\n" for n in lines)
    n = bytes_before_rotation(data, current, limit)
    assert 0 <= n <= len(data)
    assert n == 0 or data[n - 1 : n] == b"\n"
    if n == len(data):
        assert current + len(data) <= limit or current == 0
    if n > 0 and current > 0:
        assert current + n <= limit  # a non-empty file never grows past the limit
    if n == 0:
        assert current > 0  # an empty file always takes at least one line


def test_single_line_longer_than_the_file_limit_goes_alone_into_an_empty_file() -> None:
    data = b"y" * 30 + b"\nz\n"
    assert bytes_before_rotation(data, 0, 10) == 31
    assert bytes_before_rotation(data, 5, 10) == 0


def archive(name: str, size: int, age_days: float, counter: int = 0) -> LogFile:
    return LogFile(name, size, ArchiveKey(NOW - age_days * DAY, counter))


def test_prune_deletes_archives_older_than_max_age() -> None:
    files = [archive("old", 10, 31), archive("young", 10, 29), LogFile("n.log", 5, None)]
    assert plan_prune(files, NOW, 30 * DAY, 10_000) == ["old"]


def test_prune_deletes_oldest_first_until_under_the_cap() -> None:
    files = [
        archive("c", 100, 1),
        archive("a", 100, 3),
        archive("b", 100, 2),
        LogFile("n.log", 100, None),
    ]
    assert plan_prune(files, NOW, 30 * DAY, 250) == ["a", "b"]
    assert plan_prune(files, NOW, 30 * DAY, 400) == []


def test_prune_never_chooses_current_files_or_compressions_in_progress() -> None:
    files = [
        LogFile("n.log", 1000, None),
        LogFile("t.log.gz.tmp", 1000, ArchiveKey(NOW - 99 * DAY, 0), in_progress=True),
        archive("a", 10, 99),
    ]
    assert plan_prune(files, NOW, DAY, 1) == ["a"]


@settings(max_examples=200)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=1000), max_size=20),
    ages=st.lists(st.floats(min_value=0, max_value=60), max_size=20),
    current=st.integers(min_value=0, max_value=1000),
    cap=st.integers(min_value=0, max_value=10_000),
)
def test_after_pruning_the_total_fits_unless_only_current_files_remain(
    sizes: list[int], ages: list[float], current: int, cap: int
) -> None:
    files = [
        archive(f"a{i}", size, age, i)
        for i, (size, age) in enumerate(zip(sizes, ages, strict=False))
    ]
    files.append(LogFile("n.log", current, None))
    doomed = plan_prune(files, NOW, 30 * DAY, cap)
    kept = [f for f in files if f.name not in doomed]
    total = sum(f.size for f in kept)
    assert total <= cap or all(f.key is None for f in kept)
    assert all(NOW - f.key.timestamp <= 30 * DAY for f in kept if f.key is not None)
    # oldest first: every kept archive is newer than every archive deleted for size
    kept_keys = [f.key for f in kept if f.key is not None]
    size_doomed = [
        f.key for f in files if f.name in doomed and f.key and NOW - f.key.timestamp <= 30 * DAY
    ]
    assert not kept_keys or not size_doomed or min(kept_keys) > max(size_doomed)


def test_marker_line_states_count_and_reasons() -> None:
    line = format_marker(NOW, 1234, ["disk full", "buffer full"])
    assert line.endswith(b" nodekeeper: 1234 lines dropped: disk full, buffer full\n")
    assert line.startswith(b"2026-")
