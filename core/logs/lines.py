"""Turning a byte stream from a pipe into chunks of whole lines (pure: no I/O).

The pipe reader hands every read to :class:`LineSplitter`; only chunks that
end in a newline come out, so a line is never split between two writes or
two files. Whole reads are cut at their last newline instead of line by
line, which keeps the cost per byte tiny. A partial line is held back until
its newline arrives, but never more than ``max_line`` bytes of it: a longer
line is cut into marked pieces so memory stays bounded whatever the node
writes.
"""

from __future__ import annotations

MAX_LINE = 1024 * 1024
CONTINUES = b" [line continues]\n"
CONTINUED = b"[continued] "


class LineSplitter:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self._max_line = max_line
        self._pending = bytearray()
        self._continued = False  # the pending text is the tail of a cut line

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    def feed(self, data: bytes) -> list[bytes]:
        """Chunks of whole lines (each ends in b"\\n") completed by ``data``."""
        if not data:
            return []
        whole = data[-1:] == b"\n" and not self._pending and not self._continued
        if whole and len(data) <= self._max_line:  # whole lines, none too long: as they came
            return [data]
        out: list[bytes] = []
        first_nl = data.find(b"\n")
        if first_nl < 0:
            self._pending += data
            self._cut_pending(out)
            return out
        last_nl = data.rfind(b"\n")
        if self._pending or self._continued:
            self._pending += data[: first_nl + 1]
            self._emit_line(bytes(self._pending), out)
            self._pending.clear()
            body_start = first_nl + 1
        else:
            body_start = 0
        if body_start <= last_nl:
            body = (
                data
                if body_start == 0 and last_nl == len(data) - 1
                else data[body_start : last_nl + 1]
            )
            if len(body) > self._max_line:
                start = 0  # not splitlines(): that also splits at \r and other breaks
                while start < len(body):
                    end = body.index(b"\n", start) + 1
                    self._emit_line(body[start:end], out)
                    start = end
            else:
                out.append(body)
        if last_nl + 1 < len(data):
            self._pending += data[last_nl + 1 :]
            self._cut_pending(out)
        return out

    def hand_over(self) -> bytes:
        """The partial line held back, for the reader that continues this pipe in a new core
        (it feeds these bytes first); the splitter is left empty."""
        held = (CONTINUED if self._continued else b"") + bytes(self._pending)
        self._pending.clear()
        self._continued = False
        return held

    def finish(self) -> list[bytes]:
        """At end of stream: the pending partial line, completed with a newline."""
        if not self._pending and not self._continued:
            return []
        line = (CONTINUED if self._continued else b"") + bytes(self._pending) + b"\n"
        self._pending.clear()
        self._continued = False
        return [line]

    def _emit_line(self, line: bytes, out: list[bytes]) -> None:
        """Append one complete line (ending in b"\\n"), cut into pieces if too long."""
        prefix = CONTINUED if self._continued else b""
        self._continued = False
        text_len = len(line) - 1
        if text_len <= self._max_line:
            out.append(prefix + line if prefix else line)
            return
        step = self._max_line
        start = 0
        while start < text_len:
            end = min(start + step, text_len)
            tail = b"\n" if end >= text_len else CONTINUES
            out.append(prefix + line[start:end] + tail)
            prefix = CONTINUED
            start = end

    def _cut_pending(self, out: list[bytes]) -> None:
        while len(self._pending) > self._max_line:
            prefix = CONTINUED if self._continued else b""
            out.append(prefix + bytes(self._pending[: self._max_line]) + CONTINUES)
            del self._pending[: self._max_line]
            self._continued = True


def count_lines(chunks: list[bytes] | tuple[bytes, ...]) -> int:
    return sum(chunk.count(b"\n") for chunk in chunks)
