"""`nodekeeper state show|restore --config FILE`: look at or repair state.json.

Works on the files directly, without a running core. ``restore`` puts the
last good copy (state.json.bak) back, and refuses while a core holds the
data dir lock: a running core would overwrite the repair with its own view.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from nodekeeper.core.errors import AlreadyRunning, StateError

if TYPE_CHECKING:
    from nodekeeper.core.config import Config
    from nodekeeper.core.state import StateStore


def register(sub: Any) -> None:
    parser = sub.add_parser("state", help="show or repair the core's state file")
    actions = parser.add_subparsers(dest="state_action", metavar="ACTION")
    actions.required = True
    show = actions.add_parser("show", help="print state.json")
    show.add_argument("--config", required=True, metavar="FILE", help="configuration file (TOML)")
    show.set_defaults(func=run_show)
    restore = actions.add_parser(
        "restore", help="replace state.json with its last good copy (state.json.bak)"
    )
    restore.add_argument(
        "--config", required=True, metavar="FILE", help="configuration file (TOML)"
    )
    restore.set_defaults(func=run_restore)


def _store(args: argparse.Namespace) -> tuple[Config, StateStore]:
    from nodekeeper.core.config import load_config
    from nodekeeper.core.state import StateStore

    config = load_config(args.config)
    return config, StateStore(config.paths.data_dir / "state.json", config.source)


def run_show(args: argparse.Namespace) -> int:
    _config, store = _store(args)
    state = store.load()
    if not store.path.exists():
        print(f"(no {store.path} yet: showing the empty state)", file=sys.stderr)
    sys.stdout.write(state.to_json())
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from nodekeeper.core.platform import current_platform

    config, store = _store(args)
    data_dir = config.paths.data_dir
    if not data_dir.is_dir():
        raise StateError(f"data dir {data_dir} does not exist: there is nothing to restore")
    store.load_backup()  # check before taking the lock: a clear message either way
    try:
        lock = current_platform().lock_data_dir(data_dir)
    except AlreadyRunning as exc:
        raise AlreadyRunning(f"not restoring state: {exc}") from None
    except OSError as exc:
        raise StateError(f"cannot lock {data_dir}: {exc.strerror or exc}") from None
    try:
        state = store.restore_backup()
    finally:
        lock.release()
    print(f"restored {store.path} from {store.backup_path}")
    sys.stdout.write(state.to_json())
    return 0
