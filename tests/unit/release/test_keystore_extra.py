"""Keyring is the [release] extra: without it a publisher command says so in one line."""

from __future__ import annotations

import sys

import pytest

from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.keystore import KeyringStore


def test_without_the_keyring_package_the_error_names_the_extra_and_key_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # as if it were not installed
    with pytest.raises(ReleaseError) as raised:
        KeyringStore().get("0" * 64)
    message = str(raised.value)
    assert "\n" not in message
    assert "nodekeeper[release]" in message and "--key-file" in message
