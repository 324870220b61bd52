"""The core hears a stop request through the platform's stop-signal seam."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from nodekeeper.core.platform.stop_signals import on_stop_request


@pytest.mark.skipif(sys.platform == "win32", reason="Windows stops with Ctrl+C/Ctrl+Break")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_reach_the_callback_on_the_loop(signum: int) -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        on_stop_request(loop, stop.set)
        try:
            os.kill(os.getpid(), signum)
            await asyncio.wait_for(stop.wait(), 5)
        finally:
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(number)

    asyncio.run(scenario())


@pytest.mark.skipif(sys.platform == "win32", reason="Windows stops with Ctrl+C/Ctrl+Break")
def test_every_instance_hears_the_signal_until_it_stops_listening() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        first, second, gone = asyncio.Event(), asyncio.Event(), asyncio.Event()
        on_stop_request(loop, first.set)
        remove = on_stop_request(loop, gone.set)
        on_stop_request(loop, second.set)
        remove()
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), 5)
            assert not gone.is_set()
        finally:
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(number)

    asyncio.run(scenario())
