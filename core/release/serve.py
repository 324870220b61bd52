"""A small static HTTP server for a release repository (tests and demos).

Production repositories belong on a real web server, CDN or bucket; this
one exists so ``nodekeeper release serve`` works anywhere Python does. It
serves the files below ``metadata/`` and ``targets/`` only (whatever else
sits in the folder, a key file or the mirror's work files, is never
served, nor anything a link points to outside them), answers byte ranges
(so clients can resume), and marks everything but ``timestamp.json`` as
cacheable forever, which consistent snapshots make safe.
"""

from __future__ import annotations

import os
import re
import shutil
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
PUBLISHED = ("metadata", "targets")


def is_published(repo_dir: Path, path: Path) -> bool:
    """Whether ``path`` (already resolved against ``repo_dir``) is a file clients may fetch."""
    try:
        real = path.resolve(strict=True)
    except OSError:
        return False
    base = repo_dir.resolve()
    return real.is_file() and any((base / part) in real.parents for part in PUBLISHED)


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def end_headers(self) -> None:
        if self.path.rstrip("/").endswith("timestamp.json"):
            self.send_header("Cache-Control", "no-cache")
        else:
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
        super().end_headers()

    def list_directory(self, path: Any) -> None:
        self.send_error(404, "File not found")
        return None

    def send_head(self) -> Any:
        if not is_published(Path(self.directory), Path(self.translate_path(self.path))):
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not is_published(Path(self.directory), path):
            self.send_error(404, "File not found")
            return
        header = self.headers.get("Range")
        match = _RANGE.fullmatch(header.strip()) if header else None
        if match is None or not path.is_file():
            super().do_GET()
            return
        size = path.stat().st_size
        start = int(match[1])
        end = min(int(match[2]) if match[2] else size - 1, size - 1)
        if start >= size or end < start:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with open(path, "rb") as handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(1 << 20, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def copyfile(self, source: Any, outputfile: Any) -> None:
        shutil.copyfileobj(source, outputfile, 1 << 20)

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("NODEKEEPER_SERVE_QUIET") != "1":
            super().log_message(format, *args)


def make_server(repo_dir: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    handler = partial(_Handler, directory=str(repo_dir))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
