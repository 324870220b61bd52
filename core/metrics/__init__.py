"""Prometheus metrics for ``[metrics] listen`` (imported only when that key is set).

Most series are read from the core's status when Prometheus scrapes
(:mod:`.collector`); the few things a later status cannot show, restarts
by reason and each health check's latency, are recorded as they happen
from the event bus and the probe seam (:mod:`.recorder`). Nothing here may
run in the core's hot paths beyond incrementing a counter, and an idle core
without metrics never imports this package or ``prometheus_client``.
"""
