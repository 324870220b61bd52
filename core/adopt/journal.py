"""The record of what `nodekeeper init` changed, so that `--undo` puts it back exactly.

Each step is written here (with what was there before it) and made durable
*before* the step changes anything; a crash half-way leaves a journal that
``--undo`` can still follow, since every undo action is safe to repeat.
JSON, beside the config it wrote: ``<instance>.adopt.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodekeeper.core.adopt.errors import AdoptUsageError
from nodekeeper.core.fsutil import write_atomic

FORMAT = 1


def journal_path(config_file: Path) -> Path:
    return config_file.with_name(config_file.stem + ".adopt.json")


@dataclass
class Journal:
    path: Path
    instance: str
    config: str  # the config path on the target system (no --root prefix)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def record(self, kind: str, target: str, before: Mapping[str, Any]) -> None:
        self.steps.append({"kind": kind, "target": target, "before": dict(before)})
        self.save()

    def save(self) -> None:
        data = {
            "format": FORMAT,
            "instance": self.instance,
            "config": self.config,
            "steps": self.steps,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, (json.dumps(data, indent=1) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AdoptUsageError(
                f"nothing to undo: {path} does not exist (nodekeeper init was not run "
                "for this config, or was undone already)"
            ) from None
        except (OSError, ValueError) as exc:
            raise AdoptUsageError(f"{path}: cannot read the init journal ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AdoptUsageError(f"{path}: not an init journal this nodekeeper knows")
        steps = data.get("steps")
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise AdoptUsageError(f"{path}: the journal's steps are damaged")
        return cls(path, str(data.get("instance")), str(data.get("config")), steps)
