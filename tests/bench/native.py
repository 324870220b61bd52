"""Native helper programs for the benchmarks, compiled with the system C compiler.

A node written in C costs the capturer its real price: a Python writer
spends more CPU making lines than a capturer spends storing them, and the
benchmark would measure the writer. :func:`build` compiles, once per
benchmark run, into a temporary folder:

``writer BYTES REPORT [LINE_SIZE]``
    writes numbered lines (``<12-digit number> xxx…\\n``, numbers from 0)
    to stdout in 64 KiB writes, closes stdout and stderr, writes
    ``lines bytes start end`` (CLOCK_MONOTONIC seconds, the clock of
    Python's ``time.monotonic`` on Linux) to REPORT, then sleeps until
    killed, so a supervisor with restarts on does not start it again.
``check N``
    reads numbered lines on stdin and prints ``unique duplicates foreign``:
    how many of the numbers 0..N-1 were seen, how many lines repeated one,
    and how many lines were something else (markers, junk, cut lines).
``idle``
    a node that does nothing: sleeps until killed.
``stamp FILE``
    writes its CLOCK_MONOTONIC start time to FILE, then sleeps until
    killed: the moment a supervisor's node really started.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRITER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: writer BYTES REPORT [LINE_SIZE]\n"); return 2; }
    long long total = atoll(argv[1]);
    int line = argc > 3 ? atoi(argv[3]) : 100;
    if (line < 14) line = 14;
    enum { BLOCK = 64 * 1024 };
    static char buf[BLOCK + 4096];
    long long written = 0, lines = 0;
    double start = now();
    while (written + line <= total) {
        size_t used = 0;
        while (used + line <= BLOCK && written + (long long)used + line <= total) {
            char *p = buf + used;
            snprintf(p, 14, "%012lld ", lines);
            p[12] = ' ';
            memset(p + 13, 'x', line - 14);
            p[line - 1] = '\n';
            used += line;
            lines++;
        }
        size_t done = 0;
        while (done < used) {
            ssize_t n = write(1, buf + done, used - done);
            if (n < 0) { if (errno == EINTR) continue; perror("write"); return 1; }
            done += n;
        }
        written += used;
    }
    double end = now();
    close(1);
    close(2);
    FILE *f = fopen(argv[2], "w");
    if (!f) return 1;
    fprintf(f, "%lld %lld %.6f %.6f\n", lines, written, start, end);
    fclose(f);
    for (;;) pause();
}
"""

CHECK_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: check N\n"); return 2; }
    long long n = atoll(argv[1]);
    unsigned char *seen = calloc(n / 8 + 1, 1);
    long long unique = 0, dups = 0, foreign = 0;
    static char line[1 << 21];
    while (fgets(line, sizeof line, stdin)) {
        char *end;
        long long k = strtoll(line, &end, 10);
        if (end != line + 12 || *end != ' ' || k < 0 || k >= n || !strchr(line, '\n')) {
            foreign++;
            continue;
        }
        if (seen[k / 8] & (1 << (k % 8))) { dups++; continue; }
        seen[k / 8] |= 1 << (k % 8);
        unique++;
    }
    printf("%lld %lld %lld\n", unique, dups, foreign);
    return 0;
}
"""

IDLE_C = r"""
#include <unistd.h>
int main(void) { for (;;) pause(); }
"""


STAMP_C = r"""
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (argc < 2) return 2;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f) return 1;
    fprintf(f, "%.6f\n", ts.tv_sec + ts.tv_nsec / 1e9);
    fclose(f);
    rename(tmp, argv[1]);
    for (;;) pause();
}
"""


@dataclass(frozen=True)
class Native:
    writer: Path
    check: Path
    idle: Path
    stamp: Path


@dataclass(frozen=True)
class WriterReport:
    lines: int
    bytes: int
    start: float  # time.monotonic() of the first line
    end: float

    @classmethod
    def read(cls, path: Path) -> WriterReport:
        lines, nbytes, start, end = path.read_text().split()
        return cls(int(lines), int(nbytes), float(start), float(end))


def build(directory: Path) -> Native:
    """Compile the helpers into ``directory``; raises RuntimeError without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc or gcc) found: the benchmarks need one")
    directory.mkdir(parents=True, exist_ok=True)
    built = []
    for name, source in (
        ("writer", WRITER_C),
        ("check", CHECK_C),
        ("idle", IDLE_C),
        ("stamp", STAMP_C),
    ):
        src = directory / f"{name}.c"
        src.write_text(source)
        exe = directory / name
        subprocess.run([cc, "-O2", "-o", str(exe), str(src)], check=True)
        built.append(exe)
    return Native(*built)


@dataclass(frozen=True)
class Count:
    unique: int
    duplicates: int
    foreign: int


def count_numbered(check: Path, expected: int, files: list[Path]) -> Count:
    """Numbered lines found in ``files`` (plain or gzip), in order."""
    proc = subprocess.Popen(
        [str(check), str(expected)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None
    for path in files:
        if path.name.endswith(".gz") or path.name.endswith(".s"):
            subprocess.run(["gzip", "-dc", str(path)], stdout=proc.stdin, check=True)
        else:
            with open(path, "rb") as f:
                shutil.copyfileobj(f, proc.stdin, 4 * 1024 * 1024)
    proc.stdin.close()
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.wait()
    unique, dups, foreign = (int(x) for x in out.split())
    return Count(unique, dups, foreign)
