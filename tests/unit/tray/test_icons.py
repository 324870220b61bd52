from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from nodekeeper.tray.icons import STYLES, IconSet, auto_style
from nodekeeper.tray.model import IconState
from nodekeeper.tray.render_icons import DEFAULT_DIR, SIZES, STATES, render_all


def pixels(image: QImage) -> bytes:
    converted = image.convertToFormat(QImage.Format.Format_ARGB32)
    return bytes(converted.constBits())


@pytest.mark.parametrize("style", STYLES)
def test_every_state_has_an_icon_at_every_size(style: str, qtbot: QtBot) -> None:
    icons = IconSet(style)
    for state in IconState:
        icon = icons.icon(state)
        assert not icon.isNull()
        for size in (16, 22, 256):
            assert icon.pixmap(size, size).width() == size


def test_states_differ_in_shape_not_only_colour(qtbot: QtBot) -> None:
    icons = IconSet("mono")
    masks = {
        state: icons.icon(state).pixmap(32, 32).toImage().createAlphaMask() for state in IconState
    }
    shapes = {pixels(mask) for mask in masks.values()}
    assert len(shapes) == len(IconState)


def test_pngs_are_rendered_from_the_svg_sources(tmp_path: Path, qtbot: QtBot) -> None:
    for svg in DEFAULT_DIR.glob("*.svg"):
        shutil.copy(svg, tmp_path)
    written = render_all(tmp_path)
    assert len(written) == len(STATES) * 3 * len(SIZES) + 1
    image = QImage(str(tmp_path / "png" / "nodekeeper-error-mono-light-48.png"))
    assert image.width() == 48
    opaque = [
        image.pixelColor(x, y)
        for x in range(48)
        for y in range(48)
        if image.pixelColor(x, y).alpha() > 200
    ]
    assert opaque and all(c.red() > 200 and c.green() > 200 and c.blue() > 200 for c in opaque)


def test_missing_icon_files_still_give_a_visible_icon(tmp_path: Path, qtbot: QtBot) -> None:
    icons = IconSet("color", dirs=[tmp_path])
    assert all(not icons.icon(state).isNull() for state in IconState)


def test_svg_is_used_when_pngs_are_missing(tmp_path: Path, qtbot: QtBot) -> None:
    shutil.copy(DEFAULT_DIR / "nodekeeper-ok.svg", tmp_path)
    icon = IconSet("color", dirs=[tmp_path]).icon(IconState.OK)
    reference = IconSet("color").icon(IconState.OK)
    assert pixels(icon.pixmap(64, 64).toImage()) == pixels(reference.pixmap(64, 64).toImage())


def test_unknown_icon_style_is_refused() -> None:
    with pytest.raises(ValueError, match="icon style"):
        IconSet("sepia")


@pytest.mark.parametrize(
    ("platform", "desktop", "style"),
    [
        ("darwin", "", "mono"),
        ("linux", "ubuntu:GNOME", "mono-light"),
        ("linux", "KDE", "color"),
        ("win32", "", "color"),
    ],
)
def test_auto_style_matches_the_desktop(platform: str, desktop: str, style: str) -> None:
    assert auto_style(platform, desktop) == style
