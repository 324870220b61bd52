"""An idle core does not load the HTTP and TUF libraries; the health probe stays light.

requests, urllib3, tuf and prometheus-client cost memory in every core, so they load with the
first update check, webhook or metrics endpoint, never with the service or the health probe.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("requests", "urllib3", "tuf", "nacl", "prometheus_client")

SCRIPT = f"""
import sys
import nodekeeper.core.cli, nodekeeper.core.service, nodekeeper.core.notify
from nodekeeper.core.supervise.health import probe
from nodekeeper.core.update.sources.factory import open_source
result = probe("http://127.0.0.1:1/api/sno", 1.0)
assert not result.ok, result
print(" ".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_service_and_health_probe_load_no_http_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
