"""The XDG autostart entry that starts the tray at desktop login."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodekeeper.core.startup import autostart
from tests.unit.startup.readers import desktop_entries, desktop_exec_argv
from tests.unit.startup.specs import AWKWARD_PATHS, PRINTABLE


def test_entry_is_a_hidden_application_that_starts_the_tray() -> None:
    entries = desktop_entries(autostart.desktop_entry(("/usr/bin/nodekeeper-tray",)))
    assert entries["Type"] == "Application"
    assert entries["Exec"] == "/usr/bin/nodekeeper-tray"
    assert entries["Terminal"] == "false"
    assert entries["X-GNOME-Autostart-enabled"] == "true"


@pytest.mark.parametrize("path", AWKWARD_PATHS)
def test_awkward_paths_survive_exec_quoting(path: str) -> None:
    argv = (path, "-m", "nodekeeper.tray.app")
    entries = desktop_entries(autostart.desktop_entry(argv))
    assert desktop_exec_argv(entries["Exec"]) == list(argv)


@given(st.lists(PRINTABLE, min_size=1, max_size=4))
def test_any_printable_arguments_survive_exec_quoting(argv: list[str]) -> None:
    line = " ".join(autostart.quote_exec_arg(a) for a in argv)
    assert desktop_exec_argv(autostart.desktop_string(line)) == argv


def test_registration_is_one_shared_file_in_the_system_autostart_folder() -> None:
    registration = autostart.xdg_registration(("/usr/bin/nodekeeper-tray",))
    assert registration.shared
    assert [f.path for f in registration.files] == ["/etc/xdg/autostart/nodekeeper-tray.desktop"]
    assert registration.install == ()


def test_tray_run_as_a_python_module_starts_the_installed_package() -> None:
    registration = autostart.xdg_registration(("/usr/bin/python3", "-m", "nodekeeper.tray.app"))
    entries = desktop_entries(registration.files[0].content.decode())
    assert desktop_exec_argv(entries["Exec"]) == [
        "/usr/bin/python3",
        "-m",
        "nodekeeper.tray.app",
    ]
