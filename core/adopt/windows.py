"""The services Storj's Windows installer creates, as ``sc.exe`` reports them.

The installer registers ``storagenode`` (``storagenode.exe run --config-dir
"<install dir>\\"``) and ``storagenode-updater``; ``setup`` writes the
identity location into ``config.yaml``. Pure: ``sc.exe`` output and
command lines in, values out; the query itself is
:mod:`nodekeeper.core.platform.winservices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PureWindowsPath

LOCAL_SYSTEM = "LocalSystem"
# %APPDATA% of the LocalSystem account, where the identity tool run as SYSTEM puts its files.
SYSTEM_APPDATA = "C:\\Windows\\System32\\config\\systemprofile\\AppData\\Roaming"

# sc.exe START_TYPE codes and the word `sc.exe config start=` takes back.
START_TYPES = {"2": "auto", "3": "demand", "4": "disabled"}


@dataclass(frozen=True)
class WindowsService:
    name: str
    command: tuple[str, ...]
    start_type: str  # auto | delayed-auto | demand | disabled
    account: str
    running: bool


def split_command_line(line: str) -> tuple[str, ...]:
    """Split a Windows command line as CommandLineToArgvW does (backslashes before quotes)."""
    args: list[str] = []
    word: list[str] = []
    in_quotes = False
    in_word = False
    backslashes = 0
    for char in line:
        if char == "\\":
            backslashes += 1
            continue
        if char == '"':
            word.append("\\" * (backslashes // 2))
            if backslashes % 2:
                word.append('"')
            else:
                in_quotes = not in_quotes
            backslashes = 0
            in_word = True
            continue
        word.append("\\" * backslashes)
        backslashes = 0
        if char in " \t" and not in_quotes:
            if in_word:
                args.append("".join(word))
            word, in_word = [], False
            continue
        word.append(char)
        in_word = True
    word.append("\\" * backslashes)
    if in_word or backslashes:
        args.append("".join(word))
    return tuple(args)


def parse_sc_fields(output: str) -> dict[str, str]:
    """``KEY : value`` lines of ``sc.exe qc`` / ``sc.exe query`` output."""
    fields: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip().upper() == key.strip():
            fields[key.strip()] = value.strip()
    return fields


def parse_service(name: str, qc_output: str, query_output: str) -> WindowsService:
    config = parse_sc_fields(qc_output)
    state = parse_sc_fields(query_output)
    start_code, _, start_words = config.get("START_TYPE", "").partition(" ")
    start = START_TYPES.get(start_code.strip(), "demand")
    if start == "auto" and "DELAYED" in start_words.upper():
        start = "delayed-auto"
    return WindowsService(
        name=name,
        command=split_command_line(config.get("BINARY_PATH_NAME", "")),
        start_type=start,
        account=config.get("SERVICE_START_NAME", LOCAL_SYSTEM) or LOCAL_SYSTEM,
        running=state.get("STATE", "").split()[:2] == ["4", "RUNNING"],
    )


def appdata_of(account: str) -> str:
    """%APPDATA% of a service account: LocalSystem's profile, or C:\\Users\\<name>."""
    if account.lower() in (LOCAL_SYSTEM.lower(), "nt authority\\system", ".\\localsystem"):
        return SYSTEM_APPDATA
    user = account.split("\\")[-1].split("@")[0]
    return str(PureWindowsPath("C:\\Users") / user / "AppData" / "Roaming")


def identity_dir_of(account: str) -> str:
    return str(PureWindowsPath(appdata_of(account)) / "Storj" / "Identity" / "storagenode")
