from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.version import Version

V = Version.parse


def test_leading_v_is_optional_and_dropped_from_text() -> None:
    assert V("v1.2.3") == V("1.2.3")
    assert str(V("v1.2.3")) == "1.2.3"
    assert str(V("1.2.3-rc.1+build.5")) == "1.2.3-rc.1+build.5"


def test_semver_spec_precedence_example() -> None:
    # The ordering example of semver 2.0 section 11.
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    parsed = [V(t) for t in chain]
    assert sorted(reversed(parsed)) == parsed
    for lower, higher in itertools.pairwise(parsed):
        assert lower < higher and higher > lower and lower <= higher and lower != higher


def test_numbers_compare_numerically() -> None:
    assert V("1.10.0") > V("1.9.0")
    assert V("1.2.10") > V("1.2.9")
    assert V("1.0.0-rc.10") > V("1.0.0-rc.9")


def test_build_metadata_is_ignored_for_ordering() -> None:
    assert V("1.2.3+a") == V("1.2.3+b") == V("1.2.3")
    assert hash(V("1.2.3+a")) == hash(V("1.2.3"))
    assert not V("1.2.3+a") < V("1.2.3+b")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3-a..b",
        "1.2.3+",
        "1.2.3+a..b",
        "V1.2.3",
        "vv1.2.3",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3\n",
        "1.2.x",
        "-1.2.3",
        "1.2.3-ä",
        "1.2.3_4",
        "latest",
    ],
)
def test_bad_versions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a version"):
        V(text)


def test_non_string_is_refused() -> None:
    with pytest.raises(ValueError, match="not a version"):
        V(123)  # type: ignore[arg-type]


def test_comparison_with_other_types_is_refused() -> None:
    with pytest.raises(TypeError):
        _ = V("1.0.0") < "1.0.1"  # type: ignore[operator]
    assert V("1.0.0") != "1.0.0"


def test_versions_are_frozen() -> None:
    v = V("1.0.0")
    with pytest.raises(AttributeError):
        v.major = 2  # type: ignore[misc]


ident = st.one_of(
    st.integers(0, 30).map(str),
    st.text("abcxyzAZ-", min_size=1, max_size=4),
)
versions = st.builds(
    Version,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.lists(ident, max_size=3).map(tuple),
    st.lists(st.text("ab01", min_size=1, max_size=3), max_size=2).map(tuple),
)


def reference_key(v: Version) -> tuple[object, ...]:
    # Independent statement of semver section 11.
    def ident_key(i: str) -> tuple[int, object]:
        return (0, int(i)) if i.isdigit() else (1, i)

    pre = [ident_key(i) for i in v.prerelease]
    # Alphanumeric identifiers compare in ASCII; tuples of (kind, value)
    # keep numeric before alphanumeric and longer sets after their prefix.
    return (v.major, v.minor, v.patch, not v.prerelease, pre)


@given(versions)
def test_text_round_trips(v: Version) -> None:
    parsed = V(str(v))
    assert parsed == v
    assert parsed.build == v.build


@given(versions, versions)
def test_order_matches_semver_rules(a: Version, b: Version) -> None:
    ka, kb = reference_key(a), reference_key(b)
    assert (a < b) == (ka < kb)  # type: ignore[operator]
    assert (a == b) == (ka == kb)
    assert (a <= b) == (a < b or a == b)
    assert (a > b) == (b < a)
    assert (a >= b) == (b <= a)


@given(versions, versions, versions)
def test_order_is_transitive(a: Version, b: Version, c: Version) -> None:
    if a <= b and b <= c:
        assert a <= c
