"""Pruning old versions: keep_versions, never the current or previous one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.prune import versions_to_remove
from nodekeeper.core.update.version import Version

versions = st.builds(
    lambda a, b, c: f"{a}.{b}.{c}", st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)
)


def test_keeps_current_previous_and_the_newest_others() -> None:
    installed = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]
    removed = versions_to_remove(installed, current="1.3.0", previous="1.0.0", keep_versions=3)
    assert removed == ["1.1.0", "1.2.0"]


def test_newest_first_by_version_order_not_by_name() -> None:
    installed = ["1.10.0", "1.9.0", "1.2.0"]
    removed = versions_to_remove(installed, current="1.2.0", previous=None, keep_versions=2)
    assert removed == ["1.9.0"]


def test_current_and_previous_are_kept_even_beyond_the_limit() -> None:
    installed = ["1.0.0", "2.0.0", "3.0.0"]
    removed = versions_to_remove(installed, current="1.0.0", previous="2.0.0", keep_versions=1)
    assert removed == ["3.0.0"]


def test_nothing_to_remove_within_the_limit() -> None:
    assert versions_to_remove(["1.0.0"], current="1.0.0", previous=None, keep_versions=3) == []


@given(
    st.lists(versions, unique=True, max_size=10),
    st.one_of(st.none(), versions),
    st.one_of(st.none(), versions),
    st.integers(1, 12),
)
def test_pruning_rules_hold_for_any_store(
    installed: list[str], current: str | None, previous: str | None, keep_versions: int
) -> None:
    removed = versions_to_remove(
        installed, current=current, previous=previous, keep_versions=keep_versions
    )
    kept = [v for v in installed if v not in removed]
    assert set(removed) <= set(installed)
    assert current not in removed and previous not in removed
    protected = {v for v in (current, previous) if v}
    assert len(kept) <= max(keep_versions, len(protected & set(installed)))
    if len(installed) <= keep_versions:
        assert removed == []
    # Every removed version is older than every kept one that is not protected.
    others = [Version.parse(v) for v in kept if v not in protected]
    for version in removed:
        assert all(Version.parse(version) < other for other in others)
