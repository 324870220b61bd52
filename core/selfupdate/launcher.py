"""Which core runs: the launcher step at the start of ``nodekeeper run`` (pure decision).

The service manager always starts the core that came with the package. Before
it does anything else, that core reads state.json's ``self_update`` and
either goes on itself or exec's the installed version that is ``current``
(same pid, so the service manager sees one process). The same step settles a
switch that did not finish: a new core that was handed the node but is not
committed when a core starts again died, hung or was killed on probation,
or could not even start after the exec. Its version is quarantined and the committed core (``current``, which a
switch only changes when it commits) runs and takes the node over. A switch
that was interrupted before the new core ran (``handing-over``) is retried
once more before its version is quarantined.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nodekeeper.core.selfupdate.state import SelfUpdateState

# Interrupted hand-overs to one version before it is quarantined.
HANDOVER_ATTEMPTS = 2
# Starts of the committed core in a row that never came up before the packaged core
# runs instead (and quarantines it): a core that crash-loops at start is never stuck.
START_ATTEMPTS = 3


@dataclass(frozen=True)
class LaunchChoice:
    state: SelfUpdateState  # what to record (the same object when nothing changes)
    exec_version: str | None  # the installed version to exec, None: go on in this process
    message: str | None = None  # what happened, for the core's log
    rolled_back: str | None = None  # the version a failed switch is quarantined for


def choose(
    state: SelfUpdateState,
    *,
    running: str,
    installed: frozenset[str],
    handed_over: bool,
    launched: bool,
    now_iso: str,
    exec_attempted: bool = False,
) -> LaunchChoice:
    """What this core does first.

    ``handed_over``: this process was exec'd by a core that handed it the node;
    ``launched``: it was exec'd by this step already (it never exec's twice);
    ``exec_attempted``: the hand-over record for ``trying`` exists, so the old
    core got as far as the exec (it is written just before).
    """
    trying = state.trying
    message = None
    rolled_back = None
    if trying is not None:
        if handed_over and trying.version == running:
            on_probation = dataclasses.replace(trying, phase="on-probation")
            return LaunchChoice(dataclasses.replace(state, trying=on_probation), None)
        state, message, rolled_back = _failed_switch(state, now_iso, exec_attempted)
    current = state.current
    if current is None or current == running or launched:
        return LaunchChoice(state, None, message, rolled_back)
    if current not in installed:
        missing = f"core {current} is recorded as current but is not installed; running {running}"
        return LaunchChoice(state, None, _join(message, missing), rolled_back)
    if state.start_attempts >= START_ATTEMPTS:
        gave_up = (
            f"core {current} was started {state.start_attempts} times and never came up; "
            f"quarantined it, running core {running} (the packaged one)"
        )
        quarantined = state.quarantined
        if current not in quarantined:
            quarantined = (*quarantined, current)
        state = dataclasses.replace(
            state,
            current=None,
            previous=current,
            quarantined=quarantined,
            start_attempts=0,
            last_failure={
                "version": current,
                "reason": "it did not come up in several starts in a row",
                "time": now_iso,
            },
        )
        return LaunchChoice(state, None, _join(message, gave_up), current)
    counted = dataclasses.replace(state, start_attempts=state.start_attempts + 1)
    return LaunchChoice(counted, current, message, rolled_back)


def _failed_switch(
    state: SelfUpdateState, now_iso: str, exec_attempted: bool
) -> tuple[SelfUpdateState, str, str | None]:
    """The switch in ``state.trying`` did not commit: forget it, quarantine it when it ran."""
    trying = state.trying
    assert trying is not None
    failure = state.last_failure or {}
    attempts = 1
    if failure.get("version") == trying.version and isinstance(failure.get("attempts"), int):
        attempts = int(failure["attempts"]) + 1
    ran = trying.phase == "on-probation" or exec_attempted
    if ran:
        reason = "the new core stopped before it was committed"
    else:
        reason = "the switch to the new core was interrupted"
    quarantine = ran or attempts >= HANDOVER_ATTEMPTS
    quarantined = state.quarantined
    if quarantine and trying.version not in quarantined:
        quarantined = (*quarantined, trying.version)
    new_state = dataclasses.replace(
        state,
        trying=None,
        quarantined=quarantined,
        last_failure={
            "version": trying.version,
            "reason": reason,
            "time": now_iso,
            "attempts": attempts,
        },
    )
    back_to = state.current or "the packaged core"
    if quarantine:
        message = f"core {trying.version}: {reason}; quarantined it, back to {back_to}"
        return new_state, message, trying.version
    message = f"core {trying.version}: {reason}; staying on {back_to}, it is retried once"
    return new_state, message, None


def _join(first: str | None, second: str) -> str:
    return second if first is None else f"{first}; {second}"
