"""One table from every benchmark: each records its headline rows, scripts/bench prints them.

A benchmark calls :func:`record` for each goal it measures; the rows go to
the file named by ``NK_BENCH_SUMMARY`` (one JSON object a line), and
nothing happens when the variable is unset, so every benchmark still runs
on its own. ``python -m tests.bench.summary FILE`` prints the table.
"""

from __future__ import annotations

import json
import os
import sys


def record(metric: str, nodekeeper: str, peer: str, ratio: float | None, goal: str = "") -> None:
    path = os.environ.get("NK_BENCH_SUMMARY")
    if not path:
        return
    row = {"metric": metric, "nodekeeper": nodekeeper, "peer": peer, "ratio": ratio, "goal": goal}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.bench.summary FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except OSError as exc:
        print(f"summary: cannot read {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 1
    widths = [
        max([len(h)] + [len(r[k]) for r in rows])
        for h, k in (("metric", "metric"), ("nodekeeper", "nodekeeper"), ("peer", "peer"))
    ]
    print(
        f"| {'metric':{widths[0]}} | {'nodekeeper':{widths[1]}} | {'peer':{widths[2]}} | ratio | goal |"
    )
    print(f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 2)}|{'-' * (widths[2] + 2)}|---|---|")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(
            f"| {r['metric']:{widths[0]}} | {r['nodekeeper']:{widths[1]}} | {r['peer']:{widths[2]}} "
            f"| {ratio} | {r['goal']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
