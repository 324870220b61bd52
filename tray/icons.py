"""Tray icons per state: coloured, or monochrome for panels that expect it.

Icons come from the PNG sizes rendered by ``nodekeeper.tray.render_icons`` (every
size added to one QIcon, so the tray host picks a sharp one); where the
PNGs are missing they are rendered from the SVG sources at start. States
differ by shape (check, arrows, triangle, octagon), never by colour alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from nodekeeper.tray.instance import IconState
from nodekeeper.tray.render_icons import SIZES, render_svg

STYLES = ("color", "mono", "mono-light")


def icon_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("NODEKEEPER_ICON_DIR"):
        dirs.append(Path(os.environ["NODEKEEPER_ICON_DIR"]))
    dirs.append(Path(__file__).resolve().parent.parent / "resources" / "icons")
    dirs.append(Path(sys.prefix) / "share" / "nodekeeper" / "icons")
    return dirs


def auto_style(platform: str = sys.platform, desktop: str | None = None) -> str:
    """macOS menu bars want template (black) images; GNOME's dark top bar wants white glyphs."""
    if desktop is None:
        desktop = os.environ.get("XDG_CURRENT_DESKTOP", "")
    if platform == "darwin":
        return "mono"
    if "GNOME" in desktop.upper().split(":"):
        return "mono-light"
    return "color"


def _file_stem(state: IconState, style: str) -> str:
    return f"nodekeeper-{state.value}" + ("" if style == "color" else f"-{style}")


class IconSet:
    """One QIcon per state, loaded once."""

    def __init__(self, style: str = "color", dirs: list[Path] | None = None) -> None:
        if style not in STYLES:
            raise ValueError(f"icon style must be one of {', '.join(STYLES)}, not {style!r}")
        self.style = style
        self._dirs = dirs if dirs is not None else icon_dirs()
        self._icons = {state: self._load(state) for state in IconState}

    def icon(self, state: IconState) -> QIcon:
        return self._icons[state]

    def _load(self, state: IconState) -> QIcon:
        stem = _file_stem(state, self.style)
        icon = QIcon()
        for folder in self._dirs:
            pngs = [folder / "png" / f"{stem}-{size}.png" for size in SIZES]
            if all(p.is_file() for p in pngs):
                for path in pngs:
                    icon.addFile(str(path))
                break
            svg = folder / f"nodekeeper-{state.value}{'' if self.style == 'color' else '-mono'}.svg"
            if svg.is_file():
                data = svg.read_bytes()
                if self.style == "mono-light":
                    data = data.replace(b"#000000", b"#ffffff")
                for size in SIZES:
                    icon.addPixmap(QPixmap.fromImage(render_svg(data, size)))
                break
        if icon.isNull():
            icon = _drawn_icon(state)
        if self.style == "mono":
            icon.setIsMask(True)
        return icon


_FALLBACK = {
    IconState.OK: ("#2e9e4f", "✓"),
    IconState.BUSY: ("#2f6fd6", "↻"),
    IconState.ATTENTION: ("#f0a400", "!"),
    IconState.ERROR: ("#d03b3b", "X"),
}


def _drawn_icon(state: IconState) -> QIcon:
    """Last resort when no icon files are installed: never show an empty tray slot."""
    color, glyph = _FALLBACK[state]
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(color))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(4, 4, 56, 56)
    font = QFont()
    font.setPixelSize(40)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, glyph)
    painter.end()
    return QIcon(pixmap)
