"""``nodekeeper release mirror storj``: Storj's releases as a signed TUF repository.

One run reads Storj's version server, downloads the zips of the minimum and
suggested versions for each requested platform (resumable, length checked
against what the server announced), checks them, and publishes the new
artifacts and the channel in one signed change (timestamp last), or
nothing at all. The decisions (what to fetch, what counts as a swap, the
channel) live in :mod:`nodekeeper.core.release.mirror_plan`, reading
Storj's servers in :mod:`nodekeeper.core.release.upstream`; this module
ties them to the repository and the audit log.

Checks on what comes in: each zip holds exactly the platform's binary;
on this machine's platform ``storagenode version`` must report the listed
version; bytes of a mirrored version never change; pinned hashes match.
Any failure publishes nothing. The run never signs root: only the online
roles (targets, snapshot, timestamp) are needed.

Working files live in ``REPO_DIR/mirror/``, outside what nodes read
(``metadata/`` and ``targets/``): the audit log ``storj-audit.jsonl``,
resumable ``downloads/`` and a lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from nodekeeper.core.platform import filelock
from nodekeeper.core.release.audit import AuditEntry, append_log, read_log, unlogged
from nodekeeper.core.release.channels import channel_path
from nodekeeper.core.release.errors import ReleaseError
from nodekeeper.core.release.mirror_plan import (
    DEFAULT_PLATFORMS,
    Digest,
    MirrorPlan,
    Refusal,
    judge,
    plan_mirror,
)
from nodekeeper.core.release.repository import Repository
from nodekeeper.core.release.upstream import (
    PROCESS,
    UpstreamRefused,
    check_zip,
    download_artifact,
    fetch_upstream,
    upstream_session,
)

DEFAULT_UPSTREAM = "https://version.storj.io"
WORK_DIR = "mirror"
AUDIT_FILE = "storj-audit.jsonl"


@dataclass(frozen=True)
class MirrorOptions:
    upstream: str = DEFAULT_UPSTREAM
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    pins: Mapping[str, str] | None = None
    allow_http: bool = False
    dry_run: bool = False
    local_platform: str | None = None  # None: this machine's


@dataclass(frozen=True)
class MirrorResult:
    plan: MirrorPlan
    published: list[str]  # repository files written (empty: nothing changed)
    renewed: bool  # only timestamp/snapshot (and maybe targets) were re-signed


Say = Callable[[str], None]


def audit_path(repo_dir: Path) -> Path:
    return repo_dir / WORK_DIR / AUDIT_FILE


def published_artifacts(repo: Repository) -> dict[str, Digest]:
    """Every artifact target of the process, with its signed hash and length."""
    out = {}
    for path, info in repo.targets.signed.targets.items():
        if path.startswith(f"{PROCESS}/") and path.endswith(".zip"):
            out[path] = Digest(str(info.hashes["sha256"]), int(info.length))
    return out


def mirror_storj(
    repo_dir: Path,
    open_repo: Callable[[], Repository],
    options: MirrorOptions,
    now: Callable[[], datetime],
    say: Say = print,
) -> MirrorResult:
    """One mirror run; raises a one-line ReleaseError when nothing could be published."""
    work = repo_dir / WORK_DIR
    with _work_lock(repo_dir, work, create=not options.dry_run):
        repo = open_repo()
        if not options.dry_run:
            _log_unlogged(repo, now())
        session = upstream_session(options.allow_http)
        try:
            upstream = fetch_upstream(options.upstream, session, options.allow_http)
            current = _current_channel(repo)
            plan = plan_mirror(upstream, options.platforms, published_artifacts(repo), current)
            if options.dry_run:
                _describe_plan(plan, say)
                return MirrorResult(plan, [], renewed=False)
            fetched = _fetch_all(plan, work, session, options, now())
            try:
                return _publish(repo, plan, fetched, now, say)
            finally:
                for path, _digest in fetched.values():
                    path.unlink(missing_ok=True)
        finally:
            session.close()


def _current_channel(repo: Repository) -> dict[str, Any] | None:
    import json

    data = repo.read_target(channel_path(PROCESS))
    if data is None:
        return None
    try:
        channel: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise ReleaseError(f"the published {channel_path(PROCESS)} is not JSON ({exc})") from None
    return channel


def _describe_plan(plan: MirrorPlan, say: Say) -> None:
    for wanted in plan.wanted:
        state = "mirrored, would re-check" if wanted.mirrored else "would mirror"
        say(f"{wanted.path}: {state} from {wanted.url}")
    if plan.channel_changed:
        say(f"{channel_path(PROCESS)}: would publish {_channel_summary(plan.channel)}")
    elif not plan.new:
        say("up to date: nothing would be published")


def _channel_summary(channel: Mapping[str, Any]) -> str:
    from nodekeeper.core.update.rollout import cursor_to_percent

    minimum = (channel.get("minimum") or {}).get("version", "none")
    suggested = (channel.get("suggested") or {}).get("version", "none")
    pct = cursor_to_percent(bytes.fromhex(channel["rollout"]["cursor"]))
    return f"minimum {minimum}, suggested {suggested}, rollout {pct:.2f}%"


# ---- fetching and checking -----------------------------------------------------


def _fetch_all(
    plan: MirrorPlan,
    work: Path,
    session: requests.Session,
    options: MirrorOptions,
    now: datetime,
) -> dict[str, tuple[Path, Digest]]:
    """Download and check every wanted artifact; any problem refuses the whole run."""
    fetched: dict[str, tuple[Path, Digest]] = {}
    refusals: list[Refusal] = []
    try:
        for wanted in plan.wanted:
            # A verdict against upstream is drawn from one uninterrupted transfer: a
            # file resumed from an earlier run may mix bytes from before and after a change.
            for _attempt in range(2):
                path, digest, resumed = download_artifact(
                    wanted, work / "downloads", session, options.allow_http
                )
                fetched[wanted.path] = (path, digest)
                refusal = judge(wanted, digest, options.pins or {})
                if refusal is None and wanted.mirrored is None:
                    refusal = check_zip(wanted, path, digest, options.local_platform)
                if refusal is None or not resumed:
                    break
                path.unlink(missing_ok=True)
            if refusal is not None:
                refusals.append(refusal)
        if refusals:
            append_log(
                work / AUDIT_FILE,
                [
                    AuditEntry.at(
                        now,
                        "refused",
                        r.wanted.path,
                        sha256=r.got.sha256,
                        length=r.got.length,
                        url=r.wanted.url,
                        note=r.reason,
                    )
                    for r in refusals
                ],
            )
            raise _refused(refusals, work)
    except BaseException:
        for path, _digest in fetched.values():
            path.unlink(missing_ok=True)
        raise
    return fetched


def _refused(refusals: list[Refusal], work: Path) -> UpstreamRefused:
    first = refusals[0]
    more = f" (and {len(refusals) - 1} more, see {work / AUDIT_FILE})" if len(refusals) > 1 else ""
    prefix = "REFUSED, " if first.swapped else ""
    return UpstreamRefused(
        f"{prefix}{first.reason}{more}; nothing published"
        + (": investigate upstream before trusting it again" if first.swapped else "")
    )


# ---- publishing --------------------------------------------------------------


def _publish(
    repo: Repository,
    plan: MirrorPlan,
    fetched: Mapping[str, tuple[Path, Digest]],
    now: Callable[[], datetime],
    say: Say,
) -> MirrorResult:
    from nodekeeper.core.release.channels import encode_channel

    files: dict[str, bytes | Path] = {w.path: fetched[w.path][0] for w in plan.new}
    if plan.channel_changed:
        files[channel_path(PROCESS)] = encode_channel(plan.channel)
    if not files:
        renewed = repo.renew_online(now())
        if renewed:
            say(f"up to date; re-signed timestamp version {repo.timestamp.signed.version}")
        else:
            say("up to date: nothing published")
        return MirrorResult(plan, renewed or [], renewed=bool(renewed))
    when = now()
    written = repo.add_targets(files, when)
    entries = [
        AuditEntry.at(
            when,
            "mirrored",
            w.path,
            sha256=fetched[w.path][1].sha256,
            length=fetched[w.path][1].length,
            url=w.url,
        )
        for w in plan.new
    ]
    if plan.channel_changed:
        entries.append(
            AuditEntry.at(
                when, "channel", channel_path(PROCESS), note=_channel_summary(plan.channel)
            )
        )
    append_log(audit_path(repo.repo_dir), entries)
    for w in plan.new:
        say(f"mirrored {w.path} (sha256 {fetched[w.path][1].sha256})")
    if plan.channel_changed:
        say(f"published {channel_path(PROCESS)}: {_channel_summary(plan.channel)}")
    say(f"targets version {repo.targets.signed.version}")
    return MirrorResult(plan, written, renewed=False)


def _log_unlogged(repo: Repository, now: datetime) -> None:
    """Log published hashes a killed run did not get to log."""
    log = audit_path(repo.repo_dir)
    missing = unlogged(read_log(log), published_artifacts(repo))
    append_log(
        log,
        [
            AuditEntry.at(
                now,
                "mirrored",
                path,
                sha256=digest.sha256,
                length=digest.length,
                note="logged late: found in the signed targets",
            )
            for path, digest in missing
        ],
    )


# ---- the working-folder lock -------------------------------------------------


@contextlib.contextmanager
def _work_lock(repo_dir: Path, work: Path, *, create: bool) -> Iterator[None]:
    """One mirror run per repository at a time (held for the whole run)."""
    if not (repo_dir / "metadata" / "timestamp.json").is_file():
        raise ReleaseError(
            f"{repo_dir} is not a release repository (no metadata/timestamp.json); "
            "create one with: nodekeeper release init"
        )
    if not create:
        yield
        return
    try:
        work.mkdir(exist_ok=True)
        # Through the platform's lock: Windows has no flock (msvcrt.locking there).
        lock = filelock.lock_file(work / "lock")
    except OSError as exc:
        raise ReleaseError(f"cannot use {work}: {exc.strerror}") from None
    if lock is None:
        raise ReleaseError(
            f"another mirror run is working on {repo_dir}; try again when it is done"
        )
    try:
        yield
    finally:
        lock.release()


__all__ = ["DEFAULT_UPSTREAM", "MirrorOptions", "MirrorResult", "UpstreamRefused", "mirror_storj"]
