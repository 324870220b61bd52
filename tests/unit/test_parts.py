"""The "a part of the core died" policy, with fake parts (no processes, sockets or sleeping)."""

from __future__ import annotations

import asyncio

from nodekeeper.core.parts import PartFailure, until_stop_or_failure


async def forever() -> None:
    await asyncio.Event().wait()


async def broken() -> None:
    raise RuntimeError("disk on fire")


async def finished() -> None:
    return None


def test_a_part_that_raises_is_a_failure_named_with_its_error() -> None:
    async def scenario() -> PartFailure | None:
        parts = {"supervisor": asyncio.ensure_future(forever())}
        parts["updater"] = asyncio.ensure_future(broken())
        try:
            return await until_stop_or_failure(parts, asyncio.Event())
        finally:
            parts["supervisor"].cancel()

    failure = asyncio.run(scenario())
    assert failure is not None
    assert failure.name == "updater"
    assert failure.describe() == "updater failed: RuntimeError: disk on fire"


def test_a_part_that_returns_unasked_is_a_failure_unless_it_may() -> None:
    async def scenario(may_return: set[str]) -> PartFailure | None:
        stop = asyncio.Event()
        parts = {"notifier": asyncio.ensure_future(finished())}
        parts["supervisor"] = asyncio.ensure_future(forever())
        waiting = asyncio.ensure_future(until_stop_or_failure(parts, stop, may_return=may_return))
        for _ in range(10):
            await asyncio.sleep(0)
        stop.set()
        result = await waiting
        parts["supervisor"].cancel()
        return result

    assert asyncio.run(scenario(set())) == PartFailure("notifier", None)
    assert asyncio.run(scenario({"notifier"})) is None
    assert PartFailure("notifier", None).describe() == "notifier ended unexpectedly"


def test_stop_before_any_failure_is_no_failure() -> None:
    async def scenario() -> PartFailure | None:
        stop = asyncio.Event()
        stop.set()
        part = asyncio.ensure_future(forever())
        try:
            return await until_stop_or_failure({"supervisor": part}, stop)
        finally:
            part.cancel()

    assert asyncio.run(scenario()) is None


def test_a_cancelled_part_counts_as_failed() -> None:
    async def scenario() -> PartFailure | None:
        part = asyncio.ensure_future(forever())
        await asyncio.sleep(0)
        part.cancel()
        return await until_stop_or_failure({"status writer": part}, asyncio.Event())

    failure = asyncio.run(scenario())
    assert failure is not None and failure.name == "status writer"
