"""What the tray may hand to the desktop shell: existing local folders and http(s) URLs.

The logs folder comes from whatever answers on a control socket, and the
shell opens any path it is given: an ``.exe`` runs, a ``\\\\host\\share``
path makes Windows connect (and authenticate) to another machine. So the
tray opens a folder only when it is an absolute local path of a directory
that exists, and a web page only when it is an http(s) URL with a host.
The decisions are pure; whether a directory exists is asked through
``is_dir``. Nothing here opens anything.
"""

from __future__ import annotations

import ntpath
import posixpath
from collections.abc import Callable
from urllib.parse import urlsplit


def openable_url(url: str) -> str | None:
    """Why ``url`` must not be opened, or None when it is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"not opening {url!r}: not a URL"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"not opening {url!r}: only http(s) web pages are opened"
    return None


def openable_folder(path: str, is_dir: Callable[[str], bool]) -> str | None:
    """Why ``path`` must not be opened, or None when it is an existing local folder."""
    if any(c in path for c in "\0\r\n"):
        return f"not opening {path!r}: not a folder name"
    # UNC and device paths (\\host\share, //host/share, \\?\...) are checked
    # before is_dir, which would already connect to the host.
    if path.startswith(("\\\\", "//")):
        return f"not opening {path!r}: network and device paths are not opened"
    if not (posixpath.isabs(path) or _windows_absolute(path)):
        return f"not opening {path!r}: not an absolute path"
    if not is_dir(path):
        return f"not opening {path!r}: not an existing folder"
    return None


def _windows_absolute(path: str) -> bool:
    drive, rest = ntpath.splitdrive(path)
    return len(drive) == 2 and drive[1] == ":" and rest.startswith(("\\", "/"))
