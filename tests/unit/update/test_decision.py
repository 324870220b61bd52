from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.update.channel import Channel, Release, Rollout
from nodekeeper.core.update.decision import Decision, decide
from nodekeeper.core.update.version import Version

V = Version.parse
NODE = hashlib.sha256(b"node").digest()
EVERYONE = Rollout(seed=bytes(32), cursor=b"\xff" * 32)
NOBODY = Rollout(seed=bytes(32), cursor=bytes(32))


def channel(
    minimum: str | None = "1.0.0",
    suggested: str | None = "1.2.0",
    rollout: Rollout = EVERYONE,
    revoked: tuple[str, ...] = (),
) -> Channel:
    return Channel(
        process="storagenode",
        minimum=Release(minimum, "https://x/{os}") if minimum else None,
        suggested=Release(suggested, "https://x/{os}") if suggested else None,
        rollout=rollout,
        revoked=revoked,
    )


def run(
    current: str | None,
    ch: Channel,
    *,
    quarantined: tuple[str, ...] = (),
    installed: tuple[str, ...] = (),
    enabled: bool = True,
) -> Decision:
    return decide(
        current=V(current) if current else None,
        channel=ch,
        node_id=NODE,
        quarantined=[V(q) for q in quarantined],
        installed=[V(i) for i in installed],
        enabled=enabled,
    )


def test_up_to_date_node_does_nothing() -> None:
    assert run("1.2.0", channel()).action == "none"
    assert run("1.3.0", channel()).action == "none"


def test_candidate_updates_to_suggested() -> None:
    d = run("1.1.0", channel())
    assert (d.action, d.target) == ("update", V("1.2.0"))
    assert "candidate" in d.reason


def test_non_candidate_waits_for_rollout() -> None:
    d = run("1.1.0", channel(rollout=NOBODY))
    assert (d.action, d.target) == ("none", None)
    assert "not reached" in d.reason


def test_below_minimum_non_candidate_goes_to_minimum() -> None:
    d = run("0.9.0", channel(rollout=NOBODY))
    assert (d.action, d.target) == ("update", V("1.0.0"))
    assert "below minimum" in d.reason


def test_below_minimum_candidate_jumps_straight_to_suggested() -> None:
    d = run("0.9.0", channel())
    assert (d.action, d.target) == ("update", V("1.2.0"))


def test_no_version_installed_gets_minimum_or_suggested() -> None:
    assert run(None, channel(rollout=NOBODY)).target == V("1.0.0")
    assert run(None, channel()).target == V("1.2.0")
    assert run(None, channel(minimum=None, rollout=NOBODY)).target == V("1.2.0")


def test_quarantined_suggested_is_not_retried() -> None:
    d = run("1.1.0", channel(), quarantined=("1.2.0",))
    assert (d.action, d.target) == ("none", None)
    assert "1.2.0" in d.reason


def test_newer_release_after_quarantine_is_taken() -> None:
    d = run("1.1.0", channel(suggested="1.2.1"), quarantined=("1.2.0",))
    assert (d.action, d.target) == ("update", V("1.2.1"))


def test_below_minimum_with_quarantined_suggested_falls_back_to_minimum() -> None:
    d = run("0.9.0", channel(), quarantined=("1.2.0",))
    assert (d.action, d.target) == ("update", V("1.0.0"))
    assert "skipped" in d.reason


def test_revoked_suggested_is_never_installed() -> None:
    d = run("1.1.0", channel(revoked=("1.2.0",)))
    assert d.action == "none"


def test_revoked_current_rolls_back_to_installed_version() -> None:
    ch = channel(suggested="1.2.0", revoked=("1.3.0",))
    d = run("1.3.0", ch, installed=("1.3.0", "1.1.5"))
    # 1.2.0 is published, so it beats the installed 1.1.5.
    assert (d.action, d.target) == ("rollback", V("1.2.0"))
    assert "revoked" in d.reason


def test_revoked_current_skips_revoked_and_quarantined_choices() -> None:
    ch = channel(minimum="1.0.0", suggested="1.3.0", revoked=("1.3.0", "1.2.0"))
    d = run("1.3.0", ch, installed=("1.1.0", "1.1.5"), quarantined=("1.1.5",))
    assert (d.action, d.target) == ("rollback", V("1.1.0"))


def test_revoked_current_moves_forward_when_suggested_is_newer() -> None:
    d = run("1.1.0", channel(suggested="1.2.0", rollout=NOBODY, revoked=("1.1.0",)))
    assert (d.action, d.target) == ("update", V("1.2.0"))


def test_revoked_current_without_alternative_stays() -> None:
    d = run("1.3.0", channel(minimum=None, suggested="1.3.0", revoked=("1.3.0",)))
    assert (d.action, d.target) == ("none", None)
    assert "no other usable version" in d.reason


def test_updates_off_notifies_instead_of_installing() -> None:
    d = run("1.1.0", channel(), enabled=False)
    assert (d.action, d.target) == ("notify", V("1.2.0"))
    assert "updates are off" in d.reason
    r = run("1.3.0", channel(revoked=("1.3.0",)), enabled=False)
    assert (r.action, r.target) == ("notify", V("1.2.0"))
    assert run("1.2.0", channel(), enabled=False).action == "none"


def test_channel_without_suggested_does_nothing() -> None:
    assert run("1.0.0", channel(suggested=None)).action == "none"


def test_decision_json_shape() -> None:
    assert run("1.1.0", channel()).to_json() == {
        "action": "update",
        "target": "1.2.0",
        "reason": "1.2.0 is rolling out and this node is a candidate",
    }
    assert run("1.2.0", channel()).to_json()["target"] is None


def test_bad_channel_version_is_named() -> None:
    with pytest.raises(ValueError, match="channel suggested is not a version"):
        run("1.0.0", channel(suggested="latest"))


# --- properties over random channels -------------------------------------

versions = st.builds(
    lambda a, b, c, pre: Version(a, b, c, pre),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from([(), ("rc", "1"), ("beta",)]),
)
rollout_bytes = st.one_of(
    st.just(b""), st.just(bytes(32)), st.just(b"\xff" * 32), st.binary(min_size=32, max_size=32)
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    minimum = draw(st.none() | versions)
    suggested = draw(st.none() | versions)
    ch = Channel(
        process="storagenode",
        minimum=Release(str(minimum), "u") if minimum else None,
        suggested=Release(str(suggested), "u") if suggested else None,
        rollout=Rollout(
            seed=draw(st.binary(max_size=32).map(lambda b: b.ljust(32, b"\0"))),
            cursor=draw(rollout_bytes),
        ),
        revoked=tuple(str(v) for v in draw(st.lists(versions, max_size=3))),
    )
    return {
        "current": draw(st.none() | versions),
        "channel": ch,
        "node_id": draw(st.binary(min_size=32, max_size=32)),
        "quarantined": draw(st.frozensets(versions, max_size=3)),
        "installed": draw(st.frozensets(versions, max_size=4)),
        "enabled": draw(st.booleans()),
    }


def candidate(s: dict[str, object]) -> bool:
    ch = s["channel"]
    assert isinstance(ch, Channel)
    node = s["node_id"]
    assert isinstance(node, bytes)
    cursor = ch.rollout.cursor or bytes(32)
    return hmac.new(ch.rollout.seed, node, hashlib.sha256).digest() <= cursor


@given(scenarios())
def test_never_targets_quarantined_or_revoked(s: dict[str, object]) -> None:
    d = decide(**s)  # type: ignore[arg-type]
    ch = s["channel"]
    assert isinstance(ch, Channel)
    if d.target is not None:
        assert d.target not in s["quarantined"]  # type: ignore[operator]
        assert str(d.target) not in ch.revoked


@given(scenarios())
def test_direction_matches_action(s: dict[str, object]) -> None:
    d = decide(**s)  # type: ignore[arg-type]
    current = s["current"]
    assert (d.target is None) == (d.action == "none")
    if d.action == "update" and isinstance(current, Version):
        assert d.target is not None and d.target > current
    if d.action == "rollback":
        assert isinstance(current, Version) and d.target is not None and d.target < current


@given(scenarios())
def test_updates_off_changes_only_the_action(s: dict[str, object]) -> None:
    on = decide(**{**s, "enabled": True})  # type: ignore[arg-type]
    off = decide(**{**s, "enabled": False})  # type: ignore[arg-type]
    assert off.target == on.target
    assert off.action == ("notify" if on.action in ("update", "rollback") else on.action)


@given(scenarios())
def test_targets_come_from_the_channel_or_disk(s: dict[str, object]) -> None:
    d = decide(**s)  # type: ignore[arg-type]
    ch = s["channel"]
    assert isinstance(ch, Channel)
    published = {V(r.version) for r in (ch.minimum, ch.suggested) if r}
    if d.action in ("update", "notify") and d.target is not None:
        assert d.target in published or d.target in s["installed"]  # type: ignore[operator]
    if d.action == "rollback":
        assert d.target in published or d.target in s["installed"]  # type: ignore[operator]


@given(scenarios())
def test_rules_one_to_three(s: dict[str, object]) -> None:
    d = decide(**{**s, "enabled": True})  # type: ignore[arg-type]
    ch = s["channel"]
    current = s["current"]
    assert isinstance(ch, Channel)
    if ch.suggested is None or not isinstance(current, Version):
        return
    suggested = V(ch.suggested.version)
    revoked = {V(r) for r in ch.revoked}
    excluded = revoked | s["quarantined"]  # type: ignore[operator]
    if current in revoked:
        return
    minimum = V(ch.minimum.version) if ch.minimum else None
    if current >= suggested:
        assert d.action == "none"
    elif minimum is not None and current < minimum:
        if candidate(s) and suggested >= minimum and suggested not in excluded:
            assert d.target == suggested
        elif minimum not in excluded:
            assert d.target == minimum
    elif candidate(s) and suggested not in excluded:
        assert (d.action, d.target) == ("update", suggested)
    else:
        assert d.action == "none"


@given(scenarios())
def test_revoked_current_picks_highest_usable_version(s: dict[str, object]) -> None:
    d = decide(**{**s, "enabled": True})  # type: ignore[arg-type]
    ch = s["channel"]
    current = s["current"]
    assert isinstance(ch, Channel)
    revoked = {V(r) for r in ch.revoked}
    if not isinstance(current, Version) or current not in revoked:
        return
    suggested = V(ch.suggested.version) if ch.suggested else None
    pool = {V(r.version) for r in (ch.minimum, ch.suggested) if r} | s["installed"]  # type: ignore[operator]
    usable = [
        v
        for v in pool
        if v not in revoked
        and v not in s["quarantined"]  # type: ignore[operator]
        and v != current
        and (suggested is None or v <= suggested)
    ]
    assert d.target == (max(usable) if usable else None)
