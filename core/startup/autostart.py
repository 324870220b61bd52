"""The tray's start at desktop login, for every user of the machine.

One registration serves all core instances (the tray finds every core
itself): an XDG autostart entry on Linux, a LaunchAgent on macOS and a
``Run`` registry value on Windows. Pure: builds file contents and
commands, writes and runs nothing.
"""

from __future__ import annotations

import plistlib

from nodekeeper.core.startup.model import Command, PlannedFile, Registration
from nodekeeper.core.startup.windows import command_line

XDG_AUTOSTART_PATH = "/etc/xdg/autostart/nodekeeper-tray.desktop"
TRAY_AGENT_LABEL = "org.nodekeeper.tray"
TRAY_AGENT_PATH = f"/Library/LaunchAgents/{TRAY_AGENT_LABEL}.plist"
RUN_KEY = "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
RUN_VALUE = "nodekeeper-tray"

# Characters that force an Exec= argument into double quotes (XDG Desktop Entry spec).
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = frozenset('"`$\\')


def quote_exec_arg(arg: str) -> str:
    """One Exec= argument: quoted by the Desktop Entry rules, ``%`` doubled."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in _RESERVED for c in arg):
        return arg
    return '"' + "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in arg) + '"'


def desktop_string(value: str) -> str:
    """Escape a value of type string in a .desktop file (after Exec quoting)."""
    return value.replace("\\", "\\\\")


def desktop_entry(tray_command: tuple[str, ...]) -> str:
    exec_line = " ".join(quote_exec_arg(a) for a in tray_command)
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=nodekeeper tray",
            "GenericName=Storage node status",
            "Comment=See that your storage node is fine and learn about updates",
            f"Exec={desktop_string(exec_line)}",
            "Icon=nodekeeper",
            "Terminal=false",
            "NoDisplay=true",
            "X-GNOME-Autostart-enabled=true",
            "X-GNOME-Autostart-Delay=5",
            "X-KDE-autostart-after=panel",
            "",
        ]
    )


def tray_agent_plist(tray_command: tuple[str, ...]) -> bytes:
    plist: dict[str, object] = {
        "Label": TRAY_AGENT_LABEL,
        "ProgramArguments": list(tray_command),
        "RunAtLoad": True,
        # Restart after a crash, not after the user chose Quit.
        "KeepAlive": {"SuccessfulExit": False},
        "LimitLoadToSessionType": "Aqua",
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True)


def _tray(tray_command: tuple[str, ...] | None) -> tuple[str, ...]:
    # Uninstall needs the registration's place, not a working command.
    return tray_command if tray_command is not None else ("nodekeeper-tray",)


def xdg_registration(tray_command: tuple[str, ...] | None) -> Registration:
    entry = desktop_entry(_tray(tray_command)).encode()
    return Registration(
        what="tray login start",
        files=(PlannedFile(XDG_AUTOSTART_PATH, entry),),
        shared=True,
    )


def launch_agent_registration(tray_command: tuple[str, ...] | None) -> Registration:
    content = tray_agent_plist(_tray(tray_command))
    return Registration(
        what="tray login start",
        files=(PlannedFile(TRAY_AGENT_PATH, content),),
        shared=True,
    )


def windows_run_registration(tray_command: tuple[str, ...] | None) -> Registration:
    # A Run value is one command line: the tray's executable, or python -m.
    value = command_line(_tray(tray_command))
    return Registration(
        what="tray login start",
        install=(
            Command(
                ("reg.exe", "add", RUN_KEY, "/v", RUN_VALUE, "/t", "REG_SZ", "/d", value, "/f")
            ),
        ),
        # reg.exe exits 1 when the value is already gone.
        uninstall=(
            Command(
                ("reg.exe", "delete", RUN_KEY, "/v", RUN_VALUE, "/f"), ok_codes=frozenset({0, 1})
            ),
        ),
        status=(Command(("reg.exe", "query", RUN_KEY, "/v", RUN_VALUE), ok_codes=None),),
        shared=True,
    )
