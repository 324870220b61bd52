"""Render the tray icons' PNG sizes from their SVG sources.

    python -m nodekeeper.tray.render_icons [ICON_DIR]

Reads ``nodekeeper-<state>.svg`` and ``nodekeeper-<state>-mono.svg`` from
ICON_DIR (default: resources/icons of this checkout) and writes
``png/nodekeeper-<state>[-mono|-mono-light]-<size>.png`` for every size in
:data:`SIZES`. ``-mono-light`` is the monochrome glyph in white, for dark
panels (GNOME); ``-mono`` is black, usable as a macOS template image.
Also writes ``nodekeeper.png`` (256 px application icon).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
STATES = ("ok", "busy", "attention", "error")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render_svg(svg: bytes, size: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def variants(icon_dir: Path, state: str) -> dict[str, bytes]:
    color = (icon_dir / f"nodekeeper-{state}.svg").read_bytes()
    mono = (icon_dir / f"nodekeeper-{state}-mono.svg").read_bytes()
    return {
        f"nodekeeper-{state}": color,
        f"nodekeeper-{state}-mono": mono,
        f"nodekeeper-{state}-mono-light": mono.replace(b"#000000", b"#ffffff"),
    }


def render_all(icon_dir: Path) -> list[Path]:
    out_dir = icon_dir / "png"
    out_dir.mkdir(exist_ok=True)
    written: list[Path] = []
    for state in STATES:
        for name, svg in variants(icon_dir, state).items():
            for size in SIZES:
                path = out_dir / f"{name}-{size}.png"
                if not render_svg(svg, size).save(str(path), quality=9):
                    raise OSError(f"cannot write {path}")
                written.append(path)
    app_icon = icon_dir / "nodekeeper.png"
    render_svg((icon_dir / "nodekeeper-ok.svg").read_bytes(), 256).save(str(app_icon), quality=9)
    written.append(app_icon)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    icon_dir = Path(args[0]) if args else DEFAULT_DIR
    _app = QGuiApplication.instance() or QGuiApplication(["render_icons", "-platform", "offscreen"])
    try:
        written = render_all(icon_dir)
    except (OSError, ValueError) as exc:
        print(f"render_icons: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} PNG files under {icon_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
