"""The core updating itself: its releases, install store and state (docs/updates.md, Self-update)."""
