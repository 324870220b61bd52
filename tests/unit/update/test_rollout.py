from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.rollout import cursor_to_percent, is_candidate, percent_to_cursor

MAX = 2**256 - 1


def expected_cursor(pct: float) -> bytes:
    # Independent computation straight from the published formula.
    return ((MAX // 10**6) * int(pct * 10**4)).to_bytes(32, "big")


def test_fifty_percent_matches_storj_vector() -> None:
    assert (
        percent_to_cursor(50).hex()
        == "7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffb1e20"
    )


def test_six_percent_matches_storj_vector() -> None:
    assert (
        percent_to_cursor(6).hex()
        == "0f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c28f5c1f960"
    )


@pytest.mark.parametrize("pct", [12, 25, 6, 50, 99.9999, 0.5, 33.3333])
def test_percent_to_cursor_follows_formula(pct: float) -> None:
    assert percent_to_cursor(pct) == expected_cursor(pct)


def test_zero_percent_is_all_zeros_and_hundred_is_all_ones() -> None:
    assert percent_to_cursor(0) == bytes(32)
    assert percent_to_cursor(-3) == bytes(32)
    assert percent_to_cursor(100) == b"\xff" * 32
    assert percent_to_cursor(250) == b"\xff" * 32


def test_small_percent_is_not_scaled_up() -> None:
    # Storj left-aligns numbers with leading zero bytes; nodekeeper keeps the value.
    cursor = percent_to_cursor(0.1)
    assert cursor[0] == 0
    assert cursor_to_percent(cursor) == pytest.approx(0.1, rel=1e-4)


def test_nan_percent_is_refused() -> None:
    with pytest.raises(ValueError, match="not a number"):
        percent_to_cursor(float("nan"))


def test_candidate_when_hmac_is_at_or_below_cursor() -> None:
    seed = bytes(range(32))
    node = b"\x01" * 32
    digest = hmac.new(seed, node, hashlib.sha256).digest()
    assert is_candidate(node, seed, digest)
    below = (int.from_bytes(digest, "big") - 1).to_bytes(32, "big")
    assert not is_candidate(node, seed, below)


def test_empty_cursor_means_nobody_and_full_cursor_everybody() -> None:
    node = hashlib.sha256(b"node").digest()
    assert not is_candidate(node, b"", b"")
    assert is_candidate(node, b"", b"\xff" * 32)


def test_empty_seed_equals_zero_seed() -> None:
    node = hashlib.sha256(b"x").digest()
    cursor = percent_to_cursor(50)
    assert is_candidate(node, b"", cursor) == is_candidate(node, bytes(32), cursor)


def test_wrong_length_cursor_is_refused() -> None:
    with pytest.raises(ValueError, match="cursor must be 32 bytes"):
        is_candidate(bytes(32), bytes(32), b"\x00" * 31)


@given(
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_candidacy_is_hmac_comparison(node: bytes, seed: bytes, cursor: bytes) -> None:
    digest = int.from_bytes(hmac.new(seed, node, hashlib.sha256).digest(), "big")
    assert is_candidate(node, seed, cursor) == (digest <= int.from_bytes(cursor, "big"))


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_cursor_grows_with_percent(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert percent_to_cursor(lo) <= percent_to_cursor(hi)


def test_share_of_candidates_tracks_percent() -> None:
    seed = hashlib.sha256(b"seed").digest()
    nodes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(20_000)]
    for pct in (10, 50, 90):
        cursor = percent_to_cursor(pct)
        share = sum(is_candidate(n, seed, cursor) for n in nodes) / len(nodes)
        assert abs(share * 100 - pct) < 1.5
