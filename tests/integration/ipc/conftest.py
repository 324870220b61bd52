"""Fixtures of the control-socket tests: a real second local user and a folder it can reach."""

from __future__ import annotations

from tests.fixtures.local_users import other_user, shared_dir

__all__ = ["other_user", "shared_dir"]
