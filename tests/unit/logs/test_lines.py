from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from nodekeeper.core.logs.lines import CONTINUED, CONTINUES, LineSplitter, count_lines


def feed_all(splitter: LineSplitter, pieces: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for piece in pieces:
        out += splitter.feed(piece)
    return out


def test_only_whole_lines_come_out_and_the_partial_waits() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntwo\nthr") == [b"one\ntwo\n"]
    assert splitter.pending_bytes == 3
    assert splitter.feed(b"ee\nfour") == [b"three\n"]
    assert splitter.finish() == [b"four\n"]
    assert splitter.finish() == []


def test_a_read_of_whole_lines_passes_through_without_copying() -> None:
    data = b"a\nb\nc\n"
    assert splitter_out(data)[0] is data


def splitter_out(data: bytes) -> list[bytes]:
    return LineSplitter().feed(data)


def test_final_partial_line_gets_a_newline() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"no newline at all") == []
    assert splitter.finish() == [b"no newline at all\n"]


def test_long_line_is_cut_into_marked_pieces() -> None:
    splitter = LineSplitter(max_line=4)
    out = splitter.feed(b"abcdefghij\nok\n")
    assert out == [
        b"abcd" + CONTINUES,
        CONTINUED + b"efgh" + CONTINUES,
        CONTINUED + b"ij\n",
        b"ok\n",
    ]


def test_long_partial_line_never_holds_more_than_the_bound() -> None:
    splitter = LineSplitter(max_line=10)
    out: list[bytes] = []
    for _ in range(100):
        out += splitter.feed(b"0123456789abc")
        assert splitter.pending_bytes <= 10
    out += splitter.feed(b"end\n")
    text = b"".join(
        piece.removeprefix(CONTINUED).removesuffix(CONTINUES).rstrip(b"\n") for piece in out
    )
    assert text == b"0123456789abc" * 100 + b"end"
    assert out[0].startswith(b"0123456789") and out[0].endswith(CONTINUES)
    assert out[-1].startswith(CONTINUED) and out[-1].endswith(b"end\n")


@settings(max_examples=300)
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=20),
    partial=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
)
def test_any_chunking_gives_the_same_lines_each_exactly_once(
    lines: list[bytes], cuts: list[int], partial: bytes
) -> None:
    stream = b"".join(line + b"\n" for line in lines) + partial
    bounds = sorted({0, len(stream), *[c % (len(stream) + 1) for c in cuts]})
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    splitter = LineSplitter(max_line=1000)
    out = feed_all(splitter, pieces) + splitter.finish()
    assert all(chunk.endswith(b"\n") for chunk in out)
    expected = lines + ([partial] if partial else [])
    assert b"".join(out) == b"".join(line + b"\n" for line in expected)
    assert count_lines(out) == len(expected)


@settings(max_examples=200)
@given(
    text=st.binary(min_size=1, max_size=400),
    max_line=st.integers(min_value=1, max_value=50),
    step=st.integers(min_value=1, max_value=97),
)
def test_pieces_are_bounded_and_reassemble_to_the_input(
    text: bytes, max_line: int, step: int
) -> None:
    splitter = LineSplitter(max_line=max_line)
    out: list[bytes] = []
    for i in range(0, len(text), step):
        out += splitter.feed(text[i : i + step])
        assert splitter.pending_bytes <= max_line
    out += splitter.finish()
    marker = CONTINUES[:-1]
    rebuilt: list[bytes] = []
    joining = False  # the previous piece was cut and this one continues it
    for piece in b"".join(out).split(b"\n")[:-1]:
        if joining:
            assert piece.startswith(CONTINUED)
            piece = piece[len(CONTINUED) :]
        cut = piece.endswith(marker) and len(piece) - len(marker) == max_line
        body = piece[: -len(marker)] if cut else piece
        assert len(body) <= max_line
        if joining:
            rebuilt[-1] += body
        else:
            rebuilt.append(body)
        joining = cut
    original = text[:-1].split(b"\n") if text.endswith(b"\n") else text.split(b"\n")
    assert rebuilt == original


def test_carriage_returns_and_other_breaks_stay_inside_the_line() -> None:
    splitter = LineSplitter(max_line=4)  # small bound: also the path that cuts long lines
    out = splitter.feed(b"a\rb\x0bc\nd\r\n")
    assert b"".join(out) == b"a\rb\x0b" + CONTINUES + CONTINUED + b"c\nd\r\n"
    assert LineSplitter().feed(b"progress 10%\rprogress 20%\n") == [b"progress 10%\rprogress 20%\n"]
