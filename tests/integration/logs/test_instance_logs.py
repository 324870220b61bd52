"""Several instances in one process: each core log holds its own instance's records,
including those of the threads an instance started."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from nodekeeper.core.logs.context import INSTANCE, in_this_context
from nodekeeper.core.logs.corelog import CoreLogHandler
from tests.integration.logs.support import settings


def test_records_go_to_the_log_of_the_instance_whose_thread_made_them(tmp_path: Path) -> None:
    log = logging.getLogger("nodekeeper.test.instances")
    log.setLevel(logging.INFO)
    log.propagate = False
    handlers = {name: CoreLogHandler(settings(tmp_path / name), name) for name in ("a", "b")}
    for handler in handlers.values():
        log.addHandler(handler)
    try:
        threads = []
        for name in ("a", "b"):
            token = INSTANCE.set(name)
            try:
                # Started in the instance's context, as its log threads are.
                threads.append(
                    threading.Thread(
                        target=in_this_context(lambda n=name: log.warning("from %s", n))
                    )
                )
                threads.append(threading.Thread(target=lambda n=name: log.warning("bare %s", n)))
            finally:
                INSTANCE.reset(token)
        for thread in threads:
            thread.start()
            thread.join()
        log.warning("process-wide")
    finally:
        for handler in handlers.values():
            log.removeHandler(handler)
            handler.close()
    texts = {name: handler.path.read_text() for name, handler in handlers.items()}
    assert "from a" in texts["a"] and "from a" not in texts["b"]
    assert "from b" in texts["b"] and "from b" not in texts["a"]
    # A thread started without the context belongs to no instance: every log has it.
    for text in texts.values():
        assert "bare a" in text and "bare b" in text and "process-wide" in text
