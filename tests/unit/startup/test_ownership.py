"""Who may write the service's executable and config: root and the service user only."""

from __future__ import annotations

import stat

from nodekeeper.core.startup.locate import graphical_desktop
from nodekeeper.core.startup.ownership import Entry, unsafe_writer

ROOT_ONLY = (frozenset({0}), frozenset({0}))
WITH_SERVICE = (frozenset({0, 994}), frozenset({0, 993}))
DIR = stat.S_IFDIR
FILE = stat.S_IFREG


def chain(*entries: tuple[str, int, int, int]) -> list[Entry]:
    return [Entry(*e) for e in entries]


def test_root_owned_file_in_root_owned_folders_is_safe() -> None:
    entries = chain(
        ("/", 0, 0, DIR | 0o755), ("/etc", 0, 0, DIR | 0o755), ("/etc/x", 0, 0, FILE | 0o644)
    )
    assert unsafe_writer(entries, *ROOT_ONLY) is None


def test_a_file_anyone_can_write_is_refused() -> None:
    entries = chain(("/", 0, 0, DIR | 0o755), ("/x.toml", 0, 0, FILE | 0o666))
    assert unsafe_writer(entries, *ROOT_ONLY) == "/x.toml is writable by every user"


def test_a_folder_anyone_can_write_is_refused_unless_sticky() -> None:
    open_dir = chain(("/srv", 0, 0, DIR | 0o777), ("/srv/x.toml", 0, 0, FILE | 0o644))
    assert unsafe_writer(open_dir, *ROOT_ONLY) == "/srv is writable by every user"
    tmp = chain(("/tmp", 0, 0, DIR | 0o1777), ("/tmp/x.toml", 0, 0, FILE | 0o644))
    assert unsafe_writer(tmp, *ROOT_ONLY) is None


def test_files_of_other_users_and_groups_are_refused_the_service_users_are_not() -> None:
    theirs = chain(("/home/op/x.toml", 1000, 1000, FILE | 0o644))
    assert unsafe_writer(theirs, *ROOT_ONLY) == "/home/op/x.toml belongs to uid 1000"
    group = chain(("/etc/x.toml", 0, 1000, FILE | 0o664))
    assert unsafe_writer(group, *ROOT_ONLY) == "/etc/x.toml is writable by group 1000"
    service = chain(("/etc/x.toml", 994, 993, FILE | 0o660))
    assert unsafe_writer(service, *WITH_SERVICE) is None
    assert unsafe_writer(service, *ROOT_ONLY) == "/etc/x.toml belongs to uid 994"


def test_a_desktop_is_seen_from_the_installing_session_elsewhere_always() -> None:
    assert graphical_desktop("linux", {"DISPLAY": ":0"})
    assert graphical_desktop("linux", {"WAYLAND_DISPLAY": "wayland-0"})
    assert graphical_desktop("darwin", {})
    assert graphical_desktop("windows", {})
