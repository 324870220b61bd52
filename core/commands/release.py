"""`nodekeeper release init|add|channel|serve|refresh|rotate-key|mirror`: publisher tools.

Each command loads the repository, makes one signed change and publishes
it all or nothing (nodekeeper.core.release.publish). Errors are one line; a failed
command leaves the repository as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodekeeper.core.release.errors import ReleaseError, ReleaseUsageError

if TYPE_CHECKING:
    from datetime import datetime


def _now() -> datetime:
    from datetime import UTC, datetime  # not at start of every other command

    return datetime.now(UTC)


def register(sub: Any) -> None:
    parser = sub.add_parser("release", help="publish signed releases (TUF repository)")
    actions = parser.add_subparsers(dest="release_action", metavar="ACTION")
    actions.required = True

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        p.add_argument("repo_dir", metavar="REPO_DIR", type=Path, help="repository folder")
        if name != "serve":
            p.add_argument(
                "--key-file",
                type=Path,
                action="append",
                metavar="F",
                help="private keys in this file (mode 0600) instead of the OS keyring; "
                "repeat it for keys kept apart (offline root and targets keys)",
            )
        return p

    init = action("init", "create a new signed repository and its keys")
    init.add_argument(
        "--root-keys", type=int, default=1, metavar="N", help="number of root keys (default 1)"
    )
    init.add_argument(
        "--threshold", type=int, default=1, metavar="T", help="root signatures required (default 1)"
    )
    init.set_defaults(func=run_init)

    add = action("add", "publish a release archive for one platform")
    add.add_argument("--version", required=True, metavar="V")
    add.add_argument("--platform", required=True, metavar="OS-ARCH")
    add.add_argument("--file", required=True, type=Path, metavar="ARCHIVE")
    add.add_argument("--process", default="storagenode", metavar="P")
    add.set_defaults(func=run_add)

    channel = action("channel", "set minimum/suggested versions, rollout and revocations")
    channel.add_argument("--process", default="storagenode", metavar="P")
    channel.add_argument("--minimum", metavar="V")
    channel.add_argument("--suggested", metavar="V")
    channel.add_argument("--rollout", type=float, metavar="PERCENT")
    channel.add_argument("--seed", metavar="HEX")
    channel.add_argument("--revoke", nargs="+", default=[], metavar="V")
    channel.add_argument("--force", action="store_true", help="allow lowering --suggested")
    channel.set_defaults(func=run_channel)

    refresh = action("refresh", "re-sign timestamp and snapshot (run on a schedule)")
    refresh.set_defaults(func=run_refresh)

    rotate = action("rotate-key", "replace a role's key, signed by the old and new root keys")
    rotate.add_argument(
        "role", metavar="ROLE", choices=("root", "targets", "snapshot", "timestamp")
    )
    rotate.add_argument(
        "--old", metavar="KEYID", help="key id (prefix) to replace when a role has several"
    )
    rotate.set_defaults(func=run_rotate)

    mirror = actions.add_parser(
        "mirror", help="publish Storj's releases as a signed repository (run from a timer)"
    )
    mirror.add_argument("upstream", choices=("storj",), metavar="UPSTREAM", help="storj")
    mirror.add_argument("repo_dir", metavar="REPO_DIR", type=Path, help="repository folder")
    mirror.add_argument(
        "--from",
        dest="upstream_url",
        metavar="URL",
        help="Storj's version server (default https://version.storj.io)",
    )
    mirror.add_argument(
        "--platforms",
        metavar="OS-ARCH,...",
        help="platforms to mirror (default linux-amd64,linux-arm64,linux-arm,windows-amd64)",
    )
    mirror.add_argument(
        "--pin", type=Path, metavar="FILE", help="sha256sum-style pinned hashes of target paths"
    )
    mirror.add_argument(
        "--key-file",
        type=Path,
        action="append",
        metavar="F",
        help="private keys in this file (mode 0600) instead of the OS keyring; may be repeated",
    )
    mirror.add_argument(
        "--dry-run", action="store_true", help="print what would be mirrored; change nothing"
    )
    mirror.add_argument(
        "--allow-http", action="store_true", help="accept plain http upstream (tests on loopback)"
    )
    mirror.set_defaults(func=run_mirror)

    serve = action("serve", "serve the repository over HTTP (tests, demos)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, metavar="N")
    serve.set_defaults(func=run_serve)


def _open(args: argparse.Namespace) -> Any:
    from nodekeeper.core.release.keystore import open_keystore
    from nodekeeper.core.release.repository import Repository

    return Repository.load(args.repo_dir, open_keystore(args.key_file, args.repo_dir))


def run_init(args: argparse.Namespace) -> int:
    from nodekeeper.core.release.keystore import open_keystore
    from nodekeeper.core.release.repository import Repository

    if args.root_keys < 1:
        raise ReleaseUsageError("--root-keys must be at least 1")
    Repository.create(
        args.repo_dir,
        open_keystore(args.key_file, args.repo_dir),
        _now(),
        root_keys=args.root_keys,
        threshold=args.threshold,
    )
    root = (args.repo_dir / "metadata" / "1.root.json").resolve()
    print(f"created {args.repo_dir}; install this file as [updates] trusted_root on every node:")
    print(root)
    return 0


def run_add(args: argparse.Namespace) -> int:
    from nodekeeper.core.release.channels import (
        CORE_PROCESS,
        artifact_path,
        check_process,
        parse_platform,
        parse_version,
    )

    version = parse_version(args.version)
    os_name, arch = parse_platform(args.platform)
    process = check_process(args.process)
    archive: Path = args.file
    if not archive.is_file():
        raise ReleaseUsageError(f"--file {archive}: no such file")
    if process == CORE_PROCESS:
        _check_core_bundle(archive, str(version), f"{os_name}-{arch}")
    else:
        _check_zip(archive)
    repo = _open(args)
    path = artifact_path(process, version, os_name, arch)
    if repo.target_info(path) is not None:
        raise ReleaseError(f"{path} is already published; publish a new version instead")
    repo.add_targets({path: archive}, _now())
    print(f"published {path} (targets version {repo.targets.signed.version})")
    return 0


def _check_zip(archive: Path) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReleaseUsageError(f"--file {archive} is not a zip archive: {exc}") from None
    if len(names) != 1:
        raise ReleaseUsageError(
            f"--file {archive} must hold exactly one executable, it holds {len(names)} files"
        )


def _check_core_bundle(archive: Path, version: str, platform: str) -> None:
    """A core bundle: one top folder whose manifest names this version and platform."""
    from nodekeeper.core.selfupdate.manifest import (
        ManifestError,
        check_manifest,
        manifest_in_archive,
    )

    try:
        manifest = manifest_in_archive(archive)
        check_manifest(manifest, version=version, platform=platform, where=f"--file {archive}")
    except ManifestError as exc:
        raise ReleaseUsageError(f"{exc} (--process nodekeeper publishes core bundles)") from None


def run_channel(args: argparse.Namespace) -> int:
    from nodekeeper.core.release.channels import (
        ChannelChange,
        channel_path,
        check_process,
        encode_channel,
        next_channel,
        published_versions,
    )

    process = check_process(args.process)
    change = ChannelChange(
        args.minimum, args.suggested, args.rollout, args.seed, tuple(args.revoke), args.force
    )
    repo = _open(args)
    path = channel_path(process)
    current = _read_channel(repo, path)
    channel = next_channel(
        current, process, change, published_versions(repo.targets.signed.targets, process)
    )
    repo.add_targets({path: encode_channel(channel)}, _now())
    print(f"published {path}: {json.dumps(channel, sort_keys=True)}")
    return 0


def _read_channel(repo: Any, path: str) -> dict[str, Any] | None:
    data = repo.read_target(path)
    if data is None:
        return None
    try:
        channel: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise ReleaseError(f"the published {path} is not JSON ({exc})") from None
    return channel


def run_mirror(args: argparse.Namespace) -> int:
    from nodekeeper.core.release.mirror import DEFAULT_UPSTREAM, MirrorOptions, mirror_storj
    from nodekeeper.core.release.mirror_plan import DEFAULT_PLATFORMS, parse_pins, parse_platforms

    platforms = parse_platforms(args.platforms) if args.platforms is not None else DEFAULT_PLATFORMS
    pins: dict[str, str] = {}
    if args.pin is not None:
        try:
            text = args.pin.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ReleaseUsageError(f"--pin {args.pin}: cannot read it ({reason})") from None
        pins = parse_pins(text, str(args.pin))
    options = MirrorOptions(
        upstream=args.upstream_url or DEFAULT_UPSTREAM,
        platforms=platforms,
        pins=pins,
        allow_http=args.allow_http,
        dry_run=args.dry_run,
    )
    mirror_storj(args.repo_dir, lambda: _open(args), options, _now)
    # The mirror never signs root, nor targets without their key: say so while
    # there is time to renew them where those keys are kept.
    repo = _open(args)
    for warning in repo.expiry_warnings(_now()):
        print(f"warning: {warning}", file=sys.stderr)
    if repo.root_expires_soon(_now()) and repo.has_keys("root"):
        print(
            f"warning: the root metadata expires on {repo.root.signed.expires:%Y-%m-%d}; "
            "renew it with release refresh (the mirror never signs root)",
            file=sys.stderr,
        )
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    repo = _open(args)
    repo.refresh(_now())
    ts = repo.timestamp.signed
    print(f"re-signed: timestamp version {ts.version} valid until {ts.expires:%Y-%m-%dT%H:%M:%SZ}")
    for warning in repo.expiry_warnings(_now()):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    repo = _open(args)
    key = repo.rotate_key(args.role, _now(), old_keyid=args.old)
    print(f"new {args.role} key {key.keyid}; root version {repo.root.signed.version}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from nodekeeper.core.release.serve import make_server

    if not (args.repo_dir / "metadata" / "timestamp.json").is_file():
        raise ReleaseError(
            f"{args.repo_dir} is not a release repository (no metadata/timestamp.json)"
        )
    try:
        server = make_server(args.repo_dir, args.host, args.port)
    except OSError as exc:
        raise ReleaseError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = server.server_address[:2]
    print(f"serving {args.repo_dir} at http://{host!s}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.stdout.flush()
    return 0
