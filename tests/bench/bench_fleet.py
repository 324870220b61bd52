"""Load on a release server from a fleet of nodes, 48 h after a mass reboot.

    .venv/bin/python -m tests.bench.bench_fleet [--nodes N] [--seed S]

100,000 simulated nodes drive the real ``CheckScheduler`` and the real
``decide()`` on a virtual clock (a heap of next-check times; no processes,
no sleeping). At t=0 every machine reboots (each core is back after 30 s
to 3 min). Counted per minute at the server over 48 h:

  (a) nodekeeper defaults     interval 12h, jitter 1h, startup_delay 5m, the
                              schedule saved in state.json before the reboot
  (a') nodekeeper, fresh      same settings, no saved schedule (every node a
                              fresh install at t=0: the worst case)
  (a'') nodekeeper + outage   (a), and the server fails every request from
                              30 h to 32 h (nodes back off, then recover)
  (b) Storj's updater         check at start, then every 15 min, no jitter
  (c) fixed 12 h              check at start, then every 12 h, no jitter

A new release (suggested 1.1.0, rollout 100 %) is published at 24h07m; the
rollout columns say how long until 50 % and 100 % of the nodes had decided
to update. Identical nodes (no randomness in (b), (c)) are simulated once
with a weight: the result is the same, only faster. Not a pytest module:
it prints a table and never asserts.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import random
import time
from dataclasses import dataclass
from typing import Protocol

from nodekeeper.core.update.channel import Channel, Release, Rollout
from nodekeeper.core.update.decision import decide
from nodekeeper.core.update.scheduler import CheckScheduler
from nodekeeper.core.update.version import Version

H = 3600.0
MINUTE = 60.0
HORIZON = 48 * H
PUBLISH_AT = 24 * H + 7 * MINUTE
OLD, NEW = Version.parse("1.0.0"), Version.parse("1.1.0")
EVERYONE = Rollout(seed=bytes(32), cursor=b"\xff" * 32)


class Schedule(Protocol):
    def first_check(self, now: float, last: float | None, nxt: float | None) -> float: ...
    def after_success(self, now: float) -> float: ...
    def after_failure(self, now: float) -> float: ...


# (weight, schedule, boot time, saved last_check, saved next_check)
Cohort = tuple[float, Schedule, float, float | None, float | None]


def channel_at(t: float) -> Channel:
    suggested = NEW if t >= PUBLISH_AT else OLD
    release = Release(str(suggested), "https://example/{os}-{arch}.zip")
    return Channel("storagenode", Release("0.9.0", "https://example/min"), release, EVERYONE)


@dataclass
class Result:
    name: str
    per_minute: list[float]
    rollout_delays: list[tuple[float, float]]  # (delay after publishing, weight)
    nodes: float
    wall: float

    @property
    def peak(self) -> float:
        return max(self.per_minute)

    @property
    def mean(self) -> float:
        return sum(self.per_minute) / len(self.per_minute)

    def rollout_time(self, share: float) -> float:
        done = 0.0
        for delay, weight in sorted(self.rollout_delays):
            done += weight
            if done >= share * self.nodes - 1e-9:
                return delay
        return float("inf")


def simulate(
    name: str,
    cohorts: list[Cohort],
    outage: tuple[float, float] | None = None,
) -> Result:
    started = time.perf_counter()
    per_minute = [0.0] * int(HORIZON // MINUTE)
    current = [OLD] * len(cohorts)
    node_ids = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(len(cohorts))]
    delays: list[tuple[float, float]] = []
    heap: list[tuple[float, int]] = []
    for index, (_w, scheduler, boot, last, nxt) in enumerate(cohorts):
        heapq.heappush(heap, (scheduler.first_check(boot, last, nxt), index))
    channels = {False: channel_at(0), True: channel_at(PUBLISH_AT)}
    while heap:
        now, index = heapq.heappop(heap)
        if now >= HORIZON:
            continue
        weight, scheduler = cohorts[index][0], cohorts[index][1]
        per_minute[int(now // MINUTE)] += weight
        if outage and outage[0] <= now < outage[1]:
            heapq.heappush(heap, (scheduler.after_failure(now), index))
            continue
        decision = decide(
            current=current[index],
            channel=channels[now >= PUBLISH_AT],
            node_id=node_ids[index],
            quarantined=(),
            installed=(current[index],),
            enabled=True,
        )
        if decision.action == "update" and decision.target is not None:
            current[index] = decision.target
            delays.append((now - PUBLISH_AT, weight))
        heapq.heappush(heap, (scheduler.after_success(now), index))
    total = sum(c[0] for c in cohorts)
    return Result(name, per_minute, delays, total, time.perf_counter() - started)


def nodekeeper_fleet(nodes: int, rng: random.Random, saved: bool) -> list[Cohort]:
    cohorts: list[Cohort] = []
    for _ in range(nodes):
        scheduler = CheckScheduler(12 * H, 1 * H, 5 * MINUTE, random.Random(rng.getrandbits(64)))
        boot = rng.uniform(30, 180)
        if saved:
            # Steady state before the reboot: phases spread uniformly over one interval.
            gap = 12 * H + rng.uniform(-H, H)
            next_check = rng.uniform(0, gap)
            cohorts.append((1.0, scheduler, boot, next_check - gap, next_check))
        else:
            cohorts.append((1.0, scheduler, boot, None, None))
    return cohorts


class FixedPeriod:
    """The baselines' schedule: check at start, then every ``interval``, failures included."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def first_check(self, now: float, last: float | None, nxt: float | None) -> float:
        return now

    def after_success(self, now: float) -> float:
        return now + self.interval

    def after_failure(self, now: float) -> float:
        return now + self.interval


def fixed_fleet(nodes: int, interval: float) -> list[Cohort]:
    # No jitter, no startup delay: every node behaves identically (boot
    # times differ by seconds, but each checks at start, so the same minute).
    return [(float(nodes), FixedPeriod(interval), 60.0, None, None)]


def fmt_duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "never"
    if seconds < H:
        return f"{seconds / MINUTE:.0f} min"
    return f"{seconds / H:.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    n = args.nodes

    results = [
        simulate("(a) nodekeeper defaults", nodekeeper_fleet(n, rng, saved=True)),
        simulate("(a') nodekeeper, fresh installs", nodekeeper_fleet(n, rng, saved=False)),
        simulate(
            "(a'') nodekeeper, server down 30-32h",
            nodekeeper_fleet(n, rng, saved=True),
            outage=(30 * H, 32 * H),
        ),
        simulate("(b) Storj updater, 15 min", fixed_fleet(n, 15 * MINUTE)),
        simulate("(c) fixed 12 h, no jitter", fixed_fleet(n, 12 * H)),
    ]
    print(f"{n} nodes, mass reboot at t=0, 48 h; release published at 24h07m")
    header = f"{'schedule':38} {'checks':>9} {'mean/min':>9} {'peak/min':>9} {'peak/mean':>9}"
    header += f" {'50% at':>8} {'100% at':>8} {'sim s':>6}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:38} {sum(r.per_minute):>9.0f} {r.mean:>9.1f} {r.peak:>9.0f} "
            f"{r.peak / r.mean:>9.2f} {fmt_duration(r.rollout_time(0.5)):>8} "
            f"{fmt_duration(r.rollout_time(1.0)):>8} {r.wall:>6.1f}"
        )
    base = results[0]
    print(
        f"\nserver load relative to (a): (b) {results[3].mean / base.mean:.0f}x the mean, "
        f"{results[3].peak / base.peak:.0f}x the peak; (c) {results[4].peak / base.peak:.0f}x the peak"
    )


if __name__ == "__main__":
    main()
