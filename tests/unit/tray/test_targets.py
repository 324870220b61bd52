"""The tray hands the shell only existing local folders and http(s) URLs."""

from __future__ import annotations

import pytest

from nodekeeper.tray.targets import openable_folder, openable_url

FOLDERS = {"/var/log/nodekeeper", "C:\\ProgramData\\nodekeeper\\logs", "C:/logs"}


def is_dir(path: str) -> bool:
    if path.startswith(("\\\\", "//")):
        raise AssertionError(f"asked the file system about network path {path}")
    return path in FOLDERS


@pytest.mark.parametrize("path", sorted(FOLDERS))
def test_existing_absolute_folders_are_opened(path: str) -> None:
    assert openable_folder(path, is_dir) is None


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("C:\\Users\\me\\Downloads\\storagenode.exe", "not an existing folder"),
        ("/var/log/nodekeeper/gone", "not an existing folder"),
        ("\\\\evil.example\\share\\logs", "network and device paths"),
        ("//evil.example/share", "network and device paths"),
        ("\\\\?\\C:\\Windows", "network and device paths"),
        ("logs", "not an absolute path"),
        ("C:logs", "not an absolute path"),
        ("/var/log\nnodekeeper", "not a folder name"),
    ],
)
def test_anything_else_is_refused_in_one_line(path: str, why: str) -> None:
    refusal = openable_folder(path, is_dir)
    assert refusal is not None and why in refusal and "\n" not in refusal


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:14002/", "https://node.example:14002/dashboard", "HTTP://host/"]
)
def test_http_urls_are_opened(url: str) -> None:
    assert openable_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///C:/Windows/System32/calc.exe",
        "C:\\Windows\\System32\\calc.exe",
        "javascript:alert(1)",
        "ms-settings:",
        "http://",
        "http://[::1",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    refusal = openable_url(url)
    assert refusal is not None and "not opening" in refusal
