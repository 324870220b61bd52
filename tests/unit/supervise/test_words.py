"""The last exit and a download's progress in the operator's words (pure)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.supervise import words
from nodekeeper.core.supervise.words import last_exit_sentence, progress_sentence


def test_a_crash_says_code_run_time_and_the_nodes_last_line() -> None:
    last_exit = {
        "code": 1,
        "signal": None,
        "reason": "crashed",
        "time": "2026-11-27T05:00:00Z",
        "ran_s": 3.2,
        "last_line": "2026-11-27T05:00:00Z FATAL server: listen tcp :28967: bind: "
        "address already in use",
    }
    assert last_exit_sentence(last_exit) == (
        "exited with code 1 after 3 s: 2026-11-27T05:00:00Z FATAL server: "
        "listen tcp :28967: bind: address already in use"
    )


def test_a_long_last_line_keeps_its_end_where_the_error_is() -> None:
    line = "x" * 500 + " bind: address already in use"
    sentence = last_exit_sentence({"code": 1, "reason": "crashed", "ran_s": 0, "last_line": line})
    assert sentence.startswith("exited with code 1 after 0 s: … ")
    assert sentence.endswith("bind: address already in use")
    assert len(sentence) < 200


@pytest.mark.parametrize(
    ("last_exit", "sentence"),
    [
        ({"signal": "SIGKILL", "reason": "crashed", "ran_s": 150}, "killed by SIGKILL after 2 min"),
        ({"code": 0, "reason": "requested", "ran_s": 7200}, "stopped for a restart after 2 h"),
        ({"code": 0, "reason": "hold", "last_line": "bye"}, "stopped"),
        ({"code": None, "reason": "unhealthy"}, "stopped after failed health checks"),
        (
            {"code": None, "reason": "failed-to-start", "message": "no such file: /x"},
            "failed to start: no such file: /x",
        ),
        ({}, "exited"),
        ({"code": True, "ran_s": "3"}, "exited"),
    ],
)
def test_every_kind_of_exit_reads_as_a_sentence(last_exit: dict[str, Any], sentence: str) -> None:
    assert last_exit_sentence(last_exit) == sentence


def test_download_progress_names_target_bytes_and_percent() -> None:
    updates = {
        "state": "downloading",
        "progress": {"bytes": 12 * 1024**2, "total": 48 * 1024**2, "version": "1.3.0"},
    }
    assert progress_sentence(updates) == "downloading 1.3.0: 12.0 MiB of 48.0 MiB (25 %)"
    assert progress_sentence({"state": "downloading"}) == "downloading"
    unknown_size = {"state": "downloading", "progress": {"bytes": 100, "total": 0}}
    assert progress_sentence(unknown_size) == "downloading: 100 B"
    assert progress_sentence({"state": "idle", "progress": updates["progress"]}) is None


@given(
    st.dictionaries(
        st.sampled_from(["code", "signal", "reason", "ran_s", "last_line", "message"]),
        st.none() | st.integers() | st.text() | st.floats() | st.booleans(),
    )
)
def test_any_last_exit_gives_one_line(last_exit: dict[str, Any]) -> None:
    sentence = last_exit_sentence(last_exit)
    assert sentence and isinstance(sentence, str)


def test_an_infinite_duration_or_size_is_left_out() -> None:
    assert last_exit_sentence({"code": 1, "ran_s": float("inf")}) == "exited with code 1"
    updates = {"state": "downloading", "progress": {"bytes": 100, "total": float("inf")}}
    assert progress_sentence(updates) == "downloading: 100 B"


def test_the_module_imports_nothing_but_the_standard_library() -> None:
    tree = ast.parse(Path(words.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"__future__", "collections", "typing"}
