"""Publisher rules for channel files and argument checking (pure)."""

from __future__ import annotations

import pytest

from nodekeeper.core.release.channels import (
    ChannelChange,
    next_channel,
    parse_platform,
    parse_version,
)
from nodekeeper.core.release.errors import ReleaseError, ReleaseUsageError

PUBLISHED = {"1.2.0", "1.3.0", "1.4.0"}


def test_new_channel_points_at_the_artifact_template() -> None:
    channel = next_channel(
        None, "storagenode", ChannelChange(suggested="1.3.0", rollout_percent=100), PUBLISHED
    )
    assert channel["suggested"] == {"version": "1.3.0", "url": "storagenode/1.3.0/{os}-{arch}.zip"}
    assert channel["minimum"] is None
    assert channel["rollout"]["cursor"] == "f" * 64
    assert len(channel["rollout"]["seed"]) == 64


def test_fields_not_mentioned_are_kept() -> None:
    first = next_channel(
        None,
        "storagenode",
        ChannelChange(minimum="1.2.0", suggested="1.3.0", rollout_percent=50),
        PUBLISHED,
    )
    second = next_channel(first, "storagenode", ChannelChange(revoke=("1.3.0",)), PUBLISHED)
    assert second["minimum"] == first["minimum"] and second["suggested"] == first["suggested"]
    assert second["rollout"] == first["rollout"]
    assert second["revoked"] == ["1.3.0"]
    assert first["revoked"] == []


def test_lower_suggested_needs_force() -> None:
    current = next_channel(None, "storagenode", ChannelChange(suggested="1.4.0"), PUBLISHED)
    with pytest.raises(ReleaseError, match=r"lower than the current suggested 1\.4\.0"):
        next_channel(current, "storagenode", ChannelChange(suggested="1.3.0"), PUBLISHED)
    forced = next_channel(
        current, "storagenode", ChannelChange(suggested="1.3.0", force=True), PUBLISHED
    )
    assert forced["suggested"]["version"] == "1.3.0"


def test_unpublished_version_is_refused() -> None:
    with pytest.raises(ReleaseError, match="release add"):
        next_channel(None, "storagenode", ChannelChange(suggested="2.0.0"), PUBLISHED)


def test_minimum_above_suggested_is_refused() -> None:
    with pytest.raises(ReleaseError, match="higher than"):
        next_channel(
            None, "storagenode", ChannelChange(minimum="1.4.0", suggested="1.2.0"), PUBLISHED
        )


@pytest.mark.parametrize(
    "change",
    [ChannelChange(rollout_percent=101), ChannelChange(seed="xyz"), ChannelChange(revoke=("1.x",))],
)
def test_bad_arguments_are_usage_errors(change: ChannelChange) -> None:
    with pytest.raises(ReleaseUsageError):
        next_channel(None, "storagenode", change, PUBLISHED)


@pytest.mark.parametrize(
    "text", ["linux", "linux-x86", "Linux-amd64", "plan9-amd64", "linux-amd64-extra"]
)
def test_platform_names_are_checked(text: str) -> None:
    with pytest.raises(ReleaseUsageError, match="OS-ARCH"):
        parse_platform(text)


def test_platform_and_version_parse() -> None:
    assert parse_platform("darwin-arm64") == ("darwin", "arm64")
    assert str(parse_version("v1.2.3")) == "1.2.3"
    with pytest.raises(ReleaseUsageError, match="not a version"):
        parse_version("1.2")
