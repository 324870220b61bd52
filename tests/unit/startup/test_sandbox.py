"""The sandbox lines: which folders stay writable, and how they are named to systemd."""

from __future__ import annotations

from nodekeeper.core.startup import sandbox, systemd
from tests.unit.startup.readers import unit_settings
from tests.unit.startup.specs import make_spec


def lines_for(*paths: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in sandbox.directory_lines(paths))


def test_folders_in_var_lib_var_log_and_run_are_created_by_systemd_for_the_user() -> None:
    lines = lines_for("/var/lib/nodekeeper/sn", "/var/log/nodekeeper", "/run/nodekeeper")
    assert lines["StateDirectory"] == "nodekeeper/sn"
    assert lines["LogsDirectory"] == "nodekeeper"
    assert lines["RuntimeDirectory"] == "nodekeeper"
    assert lines["RuntimeDirectoryPreserve"] == "yes"
    assert "ReadWritePaths" not in lines
    assert lines["ProtectHome"] == "yes"


def test_other_folders_are_opened_with_read_write_paths_that_may_be_missing() -> None:
    lines = lines_for("/srv/node data/sn", "/var/lib/nodekeeper/sn", "/mnt/100%")
    assert lines["ReadWritePaths"] == '"-/srv/node data/sn" "-/mnt/100%%"'
    assert lines["StateDirectory"] == "nodekeeper/sn"


def test_a_folder_inside_another_needs_no_line_and_parent_escapes_are_not_managed() -> None:
    lines = lines_for("/var/lib/nodekeeper/sn", "/var/lib/nodekeeper/sn/logs")
    assert lines["StateDirectory"] == "nodekeeper/sn"
    lines = lines_for("/var/lib/../etc")
    assert "StateDirectory" not in lines
    assert lines["ReadWritePaths"] == "-/var/etc"


def test_a_folder_under_home_keeps_home_folders_visible_read_only() -> None:
    assert lines_for("/home/op/.local/state/nodekeeper/sn")["ProtectHome"] == "read-only"


def test_generated_unit_runs_as_the_service_user_in_the_sandbox() -> None:
    settings = unit_settings(systemd.unit_text(make_spec(node_workdir="/srv/storj")))
    assert settings["Service.User"] == ["nodekeeper"]
    assert settings["Service.Type"] == ["notify"]
    assert settings["Service.WatchdogSec"] == [str(sandbox.WATCHDOG_SEC)]
    assert settings["Service.StateDirectory"] == ["nodekeeper/storagenode"]
    assert settings["Service.ReadWritePaths"] == ["-/srv/storj"]
    assert settings["Service.CapabilityBoundingSet"] == [""]
    assert settings["Service.ProtectSystem"] == ["strict"]
    assert settings["Service.UMask"] == ["0027"]
