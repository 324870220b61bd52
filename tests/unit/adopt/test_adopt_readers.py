"""Reading what Storj installs: unit files, config.yaml, docker inspect, sc.exe output."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from nodekeeper.core.adopt import docker
from nodekeeper.core.adopt.errors import AdoptUsageError
from nodekeeper.core.adopt.storjconfig import (
    flag_value,
    health_url,
    parse_config_yaml,
    without_flag,
)
from nodekeeper.core.adopt.units import parse_unit, split_exec
from nodekeeper.core.adopt.windows import (
    SYSTEM_APPDATA,
    appdata_of,
    parse_service,
    split_command_line,
)
from nodekeeper.core.platform.winservices import query_service
from tests.fixtures.storj_setups import NODE_UNIT, UPDATER_UNIT, config_yaml, docker_inspect

# What `sc.exe qc storagenode` / `sc.exe query storagenode` print after Storj's installer.
SC_QC = r"""[SC] QueryServiceConfig SUCCESS

SERVICE_NAME: storagenode
        TYPE               : 10  WIN32_OWN_PROCESS
        START_TYPE         : 2   AUTO_START
        ERROR_CONTROL      : 1   NORMAL
        BINARY_PATH_NAME   : "C:\Program Files\Storj\Storage Node\storagenode.exe" run --config-dir "C:\Program Files\Storj\Storage Node\\"
        LOAD_ORDER_GROUP   :
        TAG                : 0
        DISPLAY_NAME       : Storj V3 Storage Node
        DEPENDENCIES       :
        SERVICE_START_NAME : LocalSystem
"""
SC_QUERY = """
SERVICE_NAME: storagenode
        TYPE               : 10  WIN32_OWN_PROCESS
        STATE              : 4  RUNNING
                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)
        WIN32_EXIT_CODE    : 0  (0x0)
"""


def test_storj_unit_files_give_the_node_command_and_user() -> None:
    unit = parse_unit(NODE_UNIT)
    assert unit.exec_start == (
        "/var/lib/storagenode/storagenode", "run", "--config-dir", "/etc/storagenode",
    )  # fmt: skip
    assert unit.user == "storj-storagenode"
    updater = parse_unit(UPDATER_UNIT)
    assert flag_value(updater.exec_start, "binary-location") == "/var/lib/storagenode/storagenode"


@pytest.mark.parametrize(
    ("value", "argv"),
    [
        ('/bin/a "b c" d', ("/bin/a", "b c", "d")),
        ("-/bin/a 100%% $$HOME", ("/bin/a", "100%", "$HOME")),
        (r'/bin/a "x\"y" z\ w', ("/bin/a", 'x"y', "z w")),
        ("", ()),
    ],
)
def test_exec_start_is_split_by_systemd_rules(value: str, argv: tuple[str, ...]) -> None:
    assert split_exec(value) == argv


def test_a_continued_exec_start_and_a_reset_are_read_as_systemd_does() -> None:
    text = "[Service]\nExecStart=/bin/old\nExecStart=\nExecStart=/bin/new \\\n  --flag\n"
    assert parse_unit(text).exec_start == ("/bin/new", "--flag")


def test_config_yaml_gives_flat_settings_without_comments_or_quotes() -> None:
    values = parse_config_yaml(config_yaml("/id", "/data"))
    assert values["console.address"] == "127.0.0.1:14002"
    assert values["identity.cert-path"] == "/id/identity.cert"
    assert values["operator.email"] == "operator@example.org"
    assert "bandwidth.interval" not in values  # commented out


@pytest.mark.parametrize(
    ("address", "url"),
    [
        (None, "http://127.0.0.1:14002/api/sno"),
        (":14002", "http://127.0.0.1:14002/api/sno"),
        ("0.0.0.0:15002", "http://127.0.0.1:15002/api/sno"),
        ("192.168.1.5:14002", "http://192.168.1.5:14002/api/sno"),
        ("[::1]:14002", "http://[::1]:14002/api/sno"),
    ],
)
def test_health_url_comes_from_the_dashboard_address(address: str | None, url: str) -> None:
    assert health_url(address) == url


def test_flags_are_read_and_removed_in_both_spellings() -> None:
    args = ["run", "--config-dir", "/a", "--config-dir=/b", "--x"]
    assert flag_value(args, "config-dir") == "/b"
    assert without_flag(args, "config-dir") == ["run", "--x"]


def test_docker_inspect_maps_container_paths_to_the_host() -> None:
    (container,) = docker.parse_inspect([docker_inspect("sn", "/mnt/sn", "/id/sn")], "x")
    assert docker.is_storagenode(container)
    assert container.restart_policy == "unless-stopped"
    assert docker.host_path(container, "config/storage") == "/mnt/sn/storage"
    assert docker.host_path(container, "/app/identity") == "/id/sn"
    assert docker.host_path(container, "/tmp/x") is None
    assert docker.console_address(container) == "127.0.0.1:14002"


def test_docker_inspect_of_something_else_is_refused() -> None:
    with pytest.raises(AdoptUsageError, match="docker inspect"):
        docker.parse_inspect({"hello": 1}, "file.json")


def test_images_are_recognised_by_repository_not_tag() -> None:
    def image(name: str) -> bool:
        (c,) = docker.parse_inspect([{"Config": {"Image": name}}], "x")
        return docker.is_storagenode(c)

    assert image("storjlabs/storagenode:latest")
    assert image("docker.io/storjlabs/storagenode")
    assert not image("storjlabs/storagenode-updater:latest")
    assert not image("containrrr/watchtower")


def test_windows_image_path_is_split_as_windows_does() -> None:
    line = r'"C:\Program Files\Storj\Storage Node\storagenode.exe" run --config-dir "C:\Program Files\Storj\Storage Node\\"'
    assert split_command_line(line) == (
        r"C:\Program Files\Storj\Storage Node\storagenode.exe",
        "run",
        "--config-dir",
        "C:\\Program Files\\Storj\\Storage Node\\",
    )
    assert split_command_line(r'a\\\"b "c d"') == ('a\\"b', "c d")


def test_sc_output_gives_command_start_type_account_and_state() -> None:
    service = parse_service("storagenode", SC_QC, SC_QUERY)
    assert service.command[0].endswith("storagenode.exe")
    assert service.start_type == "auto"
    assert service.account == "LocalSystem"
    assert service.running
    delayed = parse_service("x", SC_QC.replace("AUTO_START", "AUTO_START  (DELAYED)"), "")
    assert delayed.start_type == "delayed-auto"
    assert not delayed.running


def test_appdata_of_service_accounts() -> None:
    assert appdata_of("LocalSystem") == SYSTEM_APPDATA
    assert appdata_of(".\\sno") == "C:\\Users\\sno\\AppData\\Roaming"


def test_windows_service_query_goes_through_the_runner() -> None:
    asked: list[tuple[str, ...]] = []

    def run(argv: Sequence[str]) -> tuple[int, str]:
        asked.append(tuple(argv))
        if argv[2] == "storagenode-updater":
            return 1060, "[SC] OpenService FAILED 1060:\n\nThe specified service does not exist."
        return 0, SC_QC if argv[1] == "qc" else SC_QUERY

    assert query_service("storagenode-updater", run) is None
    service = query_service("storagenode", run)
    assert service is not None and service.running
    assert ("sc.exe", "qc", "storagenode") in asked
