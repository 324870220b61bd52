"""Fixtures of the security fault tests (real users, shared folders)."""

from tests.faults.security.support import other_user, shared_dir

__all__ = ["other_user", "shared_dir"]
