"""What a mirror run fetches, refuses and publishes: pure rules, no I/O."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.release.channels import encode_channel
from nodekeeper.core.release.errors import ReleaseUsageError
from nodekeeper.core.release.mirror_plan import (
    Digest,
    Wanted,
    binary_name,
    judge,
    mirrored_channel,
    parse_pins,
    parse_platforms,
    plan_mirror,
)
from nodekeeper.core.update.channel import Channel
from nodekeeper.core.update.decision import decide
from nodekeeper.core.update.rollout import percent_to_cursor
from nodekeeper.core.update.sources.storj import parse_version_document
from nodekeeper.core.update.sources.tuf import parse_channel
from nodekeeper.core.update.version import Version

URL = "https://github.com/storj/storj/releases/download/v{v}/storagenode_{{os}}_{{arch}}.zip"
SEED = "ab" * 32


def upstream(
    minimum: str | None = "1.1.0",
    suggested: str = "1.2.0",
    cursor: str = "f" * 64,
    seed: str = SEED,
    **extra: Any,
) -> Channel:
    entry: dict[str, Any] = {
        "minimum": {"version": minimum or "", "url": URL.format(v=minimum) if minimum else ""},
        "suggested": {"version": f"v{suggested}", "url": URL.format(v=suggested)},
        "rollout": {"seed": seed, "cursor": cursor},
        **extra,
    }
    return parse_version_document({"processes": {"storagenode": entry}}, "storagenode")


def test_plan_lists_every_platform_of_minimum_and_suggested() -> None:
    plan = plan_mirror(upstream(), ("linux-amd64", "windows-amd64"), {}, None)
    assert [(w.version, w.platform) for w in plan.wanted] == [
        ("1.1.0", "linux-amd64"),
        ("1.1.0", "windows-amd64"),
        ("1.2.0", "linux-amd64"),
        ("1.2.0", "windows-amd64"),
    ]
    first = plan.wanted[0]
    assert first.path == "storagenode/1.1.0/linux-amd64.zip"
    assert first.url.endswith("/v1.1.0/storagenode_linux_amd64.zip")
    assert plan.channel_changed and len(plan.new) == 4


def test_same_minimum_and_suggested_is_fetched_once() -> None:
    plan = plan_mirror(upstream("1.2.0", "1.2.0"), ("linux-amd64",), {}, None)
    assert [w.path for w in plan.wanted] == ["storagenode/1.2.0/linux-amd64.zip"]


def test_no_minimum_mirrors_suggested_only() -> None:
    plan = plan_mirror(upstream(None), ("linux-amd64",), {}, None)
    assert [w.version for w in plan.wanted] == ["1.2.0"]
    assert plan.channel["minimum"] is None


def test_already_mirrored_artifacts_are_rechecked_not_republished() -> None:
    digest = Digest("1" * 64, 10)
    published = {"storagenode/1.1.0/linux-amd64.zip": digest}
    first = plan_mirror(upstream(), ("linux-amd64",), published, None)
    assert first.wanted[0].mirrored == digest
    assert [w.version for w in first.new] == ["1.2.0"]
    again = plan_mirror(upstream(), ("linux-amd64",), published, first.channel)
    assert not again.channel_changed


def test_channel_carries_upstream_rollout_and_target_paths() -> None:
    cursor = percent_to_cursor(10).hex()
    channel = mirrored_channel(upstream(cursor=cursor, revoked=["1.0.5"]))
    assert channel == {
        "minimum": {"version": "1.1.0", "url": "storagenode/1.1.0/{os}-{arch}.zip"},
        "suggested": {"version": "1.2.0", "url": "storagenode/1.2.0/{os}-{arch}.zip"},
        "rollout": {"seed": SEED, "cursor": cursor},
        "revoked": ["1.0.5"],
    }


def test_empty_seed_and_cursor_become_explicit_zeros() -> None:
    channel = mirrored_channel(upstream(seed="", cursor=""))
    assert channel["rollout"] == {"seed": "0" * 64, "cursor": "0" * 64}


def test_lower_suggested_is_mirrored_as_is() -> None:
    before = plan_mirror(upstream(suggested="1.3.0"), ("linux-amd64",), {}, None)
    after = plan_mirror(upstream(suggested="1.2.0"), ("linux-amd64",), {}, before.channel)
    assert after.channel_changed
    assert after.channel["suggested"]["version"] == "1.2.0"


@given(
    node_id=st.binary(min_size=32, max_size=32),
    seed=st.binary(min_size=32, max_size=32),
    pct=st.floats(min_value=0, max_value=100),
    current=st.sampled_from(["1.0.0", "1.1.0", "1.1.5", "1.2.0", "1.3.0"]),
    revoked=st.lists(st.sampled_from(["1.1.0", "1.1.5", "1.2.0"]), max_size=2, unique=True),
)
def test_a_node_on_the_mirror_decides_exactly_as_one_on_storj(
    node_id: bytes, seed: bytes, pct: float, current: str, revoked: list[str]
) -> None:
    storj = upstream(cursor=percent_to_cursor(pct).hex(), seed=seed.hex(), revoked=revoked)
    tuf = parse_channel(encode_channel(mirrored_channel(storj)), "storagenode")
    kwargs: dict[str, Any] = {
        "current": Version.parse(current),
        "node_id": node_id,
        "quarantined": (),
        "installed": (Version.parse("1.1.0"),),
        "enabled": True,
    }
    assert decide(channel=tuf, **kwargs) == decide(channel=storj, **kwargs)


def _wanted(mirrored: Digest | None = None) -> Wanted:
    return Wanted(
        "1.2.0", "linux-amd64", "https://x/a.zip", "storagenode/1.2.0/linux-amd64.zip", mirrored
    )


def test_unchanged_bytes_of_a_mirrored_version_pass() -> None:
    digest = Digest("a" * 64, 5)
    assert judge(_wanted(digest), digest, {}) is None


@pytest.mark.parametrize("got", [Digest("b" * 64, 5), Digest("a" * 64, 6)])
def test_changed_bytes_of_a_mirrored_version_are_a_swap(got: Digest) -> None:
    refusal = judge(_wanted(Digest("a" * 64, 5)), got, {})
    assert refusal is not None and refusal.swapped
    assert "upstream changed the bytes of mirrored storagenode 1.2.0 linux-amd64" in refusal.reason


def test_pins_must_match() -> None:
    pins = {"storagenode/1.2.0/linux-amd64.zip": "c" * 64}
    refusal = judge(_wanted(), Digest("d" * 64, 1), pins)
    assert refusal is not None and not refusal.swapped and "pinned" in refusal.reason
    assert judge(_wanted(), Digest("c" * 64, 1), pins) is None
    assert judge(_wanted(), Digest("d" * 64, 1), {"other/path.zip": "c" * 64}) is None


def test_pin_file_format() -> None:
    text = f"# comment\n\n{'A' * 64}  *storagenode/1.2.0/linux-amd64.zip\n{'b' * 64} x/y.zip\n"
    assert parse_pins(text, "pins") == {
        "storagenode/1.2.0/linux-amd64.zip": "a" * 64,
        "x/y.zip": "b" * 64,
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc storagenode/1.2.0/linux-amd64.zip", "pins:1: expected"),
        (f"{'a' * 64}", "pins:1: expected"),
        (f"{'a' * 64} p\n{'b' * 64} p", "pins:2: p is pinned to two different hashes"),
    ],
)
def test_bad_pin_lines_are_named(text: str, problem: str) -> None:
    with pytest.raises(ReleaseUsageError, match=problem):
        parse_pins(text, "pins")


def test_platforms_are_validated_and_deduplicated() -> None:
    assert parse_platforms("linux-amd64, windows-amd64,linux-amd64") == (
        "linux-amd64",
        "windows-amd64",
    )
    with pytest.raises(ReleaseUsageError, match="linux-x86"):
        parse_platforms("linux-x86")
    with pytest.raises(ReleaseUsageError, match="names no platform"):
        parse_platforms(" , ")


def test_windows_binary_has_exe() -> None:
    assert binary_name("windows-amd64") == "storagenode.exe"
    assert binary_name("linux-arm") == "storagenode"
