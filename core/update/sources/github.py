"""Release source: GitHub releases (docs/contract.md, Release repository).

``GET {url}/repos/{repository}/releases`` lists releases. The channel
suggests the newest release (highest semver tag) that is not a draft, not
a prerelease (by flag or by tag) and has an asset for this machine;
``minimum`` is none and the rollout lets everybody through.

The asset for this machine is a ``.zip`` whose name holds ``{os}`` and
``{arch}`` (Go names; ``x86_64``/``aarch64``/``macos`` are understood too)
and otherwise only the process name and optionally the version, e.g.
``storagenode_linux_arm64.zip`` or ``storagenode_v1.2.3_darwin_amd64.zip``
(so ``storagenode-updater_linux_arm64.zip`` is not mistaken for it). If no
name carries the process, a single zip for the platform is taken.

What the file must match: a SHA-256 from ``<asset>.sha256``, a
``checksums.txt``/``SHA256SUMS`` asset, or the API's own ``digest`` field;
and when ``public_key`` is configured, the detached ed25519 signature
``<asset>.sig`` (raw 64 bytes, hex or base64) over the whole file. Those
are checked on the downloaded file by :meth:`Artifact.verify`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nodekeeper.core.update.channel import Channel, Release, Rollout
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.sources.artifact import Artifact, DownloadsArtifacts, platform_names
from nodekeeper.core.update.sources.http import HttpClient, check_url
from nodekeeper.core.update.version import Version

if TYPE_CHECKING:  # requests loads with the first check, through the transport
    import requests

    from nodekeeper.core.transport.base import BaseTransport

_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_ALIASES = {
    "x86_64": "amd64",
    "x64": "amd64",
    "aarch64": "arm64",
    "i386": "386",
    "i686": "386",
    "macos": "darwin",
}
_ARM_ALIASES = ("armv7", "armv6", "armhf")
_VERSION_TOKEN = re.compile(r"v?\d+(\.\d+)*")
_CHECKSUM_LISTS = ("checksums.txt", "sha256sums", "sha256sums.txt")
MAX_SIDE_FILE = 1024 * 1024


def _tokens(name: str) -> list[str]:
    stem = name.lower()
    stem = stem.removesuffix(".zip").removesuffix(".tar.gz").removesuffix(".exe")
    for alias, go_name in _ALIASES.items():
        stem = re.sub(rf"(?<![a-z0-9]){alias}(?![a-z0-9])", go_name, stem)
    tokens = re.split(r"[_\-]", stem)
    return ["arm" if t in _ARM_ALIASES else t for t in tokens]


def pick_asset(
    names: list[str], process: str, os_name: str, arch: str, suffixes: tuple[str, ...] = (".zip",)
) -> str | None:
    """The release asset for this platform, None if there is none; UpdateError if ambiguous.

    ``suffixes``: the archive kinds that count (core bundles are ``.tar.gz`` or ``.zip``).
    """
    fitting = [n for n in names if n.lower().endswith(suffixes)]
    fitting = [n for n in fitting if os_name in _tokens(n) and arch in _tokens(n)]
    if not fitting:
        return None
    wanted = process.lower().replace("_", "-")

    def rest(name: str) -> str:
        kept = [
            t
            for t in _tokens(name)
            if t not in (os_name, arch) and not _VERSION_TOKEN.fullmatch(t) and t
        ]
        return "-".join(kept)

    exact = [n for n in fitting if rest(n) == wanted]
    if len(exact) == 1:
        return exact[0]
    if not exact and len(fitting) == 1:
        return fitting[0]
    listed = ", ".join(sorted(exact or fitting))
    raise UpdateError(f"several release assets fit {process} {os_name}/{arch}: {listed}")


def parse_public_key(text: str | bytes | None) -> bytes | None:
    if text is None or text == "" or text == b"":
        return None
    if isinstance(text, bytes):
        if len(text) != 32:
            raise UpdateError("updates.public_key must be an ed25519 public key (32 bytes)")
        return text
    if not _HEX64.fullmatch(text.strip()):
        raise UpdateError("updates.public_key must be 64 hex digits (an ed25519 public key)")
    return bytes.fromhex(text.strip())


def parse_signature(data: bytes, name: str) -> bytes:
    """A detached ed25519 signature given raw, as hex or as base64."""
    if len(data) == 64:
        return data
    text = data.strip()
    try:
        if len(text) == 128:
            return bytes.fromhex(text.decode("ascii"))
        decoded = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        decoded = b""
    if len(decoded) != 64:
        raise UpdateError(f"{name} is not an ed25519 signature (64 bytes raw, hex or base64)")
    return decoded


def parse_checksum(text: str, asset: str, source: str) -> str | None:
    """The SHA-256 for ``asset`` in a ``.sha256`` or checksums file, None if not listed."""
    single = source.lower().endswith(".sha256")
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        digest = parts[0]
        named = parts[1].lstrip("*").removeprefix("./") if len(parts) > 1 else None
        if (single and named is None) or named == asset:
            if not _HEX64.fullmatch(digest):
                raise UpdateError(f"{source} holds no SHA-256 for {asset}: {line[:80]!r}")
            return digest.lower()
    return None


class GithubSource(DownloadsArtifacts):
    name = "github"

    def __init__(
        self,
        url: str,
        repository: str,
        public_key: str | bytes | None = None,
        allow_http: bool = False,
        session: requests.Session | None = None,
        *,
        process: str = "storagenode",
        timeout: float = 30.0,
        os_name: str | None = None,
        arch: str | None = None,
        transport: BaseTransport | None = None,
        suffixes: tuple[str, ...] = (".zip",),
    ) -> None:
        self.url = check_url(url, allow_http, "updates.url").rstrip("/")
        self.suffixes = suffixes
        if not _REPOSITORY.fullmatch(repository):
            raise UpdateError(f"updates.repository must be owner/name, got {repository!r}")
        self.repository = repository
        self.public_key = parse_public_key(public_key)
        self.allow_http = allow_http
        self.process = process
        self._http = HttpClient(allow_http, session, timeout, transport=transport)
        self._os, self._arch = platform_names(os_name, arch)
        self._etag: str | None = None
        self._cached: Channel | None = None
        self._artifacts: dict[str, Artifact] = {}

    @property
    def releases_url(self) -> str:
        return f"{self.url}/repos/{self.repository}/releases?per_page=50"

    def fetch_channel(self) -> Channel:
        got = self._http.get_json(
            self.releases_url,
            what="GitHub releases",
            etag=self._etag if self._cached else None,
            accept="application/vnd.github+json",
        )
        if got is None:
            assert self._cached is not None
            return self._cached
        document, etag = got
        version, release = self._newest_release(document)
        artifact = self._artifact_of(version, release)
        channel = Channel(
            process=self.process,
            minimum=None,
            suggested=Release(str(version), artifact.url),
            rollout=Rollout(seed=bytes(32), cursor=b"\xff" * 32),
        )
        self._artifacts[str(version)] = artifact
        self._etag, self._cached = etag, channel
        return channel

    def artifact(self, release: Release) -> Artifact:
        found = self._artifacts.get(release.version)
        if found is None:
            raise UpdateError(f"release {release.version} is not among the GitHub releases read")
        return found

    def _newest_release(self, document: Any) -> tuple[Version, Mapping[str, Any]]:
        where = f"GitHub releases of {self.repository}"
        if not isinstance(document, list):
            raise UpdateError(f"{where}: answer is not a JSON list")
        usable: list[tuple[Version, Mapping[str, Any]]] = []
        for index, release in enumerate(document):
            if not isinstance(release, Mapping):
                raise UpdateError(f"{where}: entry {index} is not an object")
            tag = release.get("tag_name")
            if not isinstance(tag, str):
                raise UpdateError(f"{where}: entry {index} has no tag_name")
            if release.get("draft") is not False or release.get("prerelease") is not False:
                continue
            try:
                version = Version.parse(tag)
            except ValueError:
                continue
            if version.is_prerelease:
                continue
            assets = release.get("assets")
            if not isinstance(assets, list) or not all(isinstance(a, Mapping) for a in assets):
                raise UpdateError(f"{where}: release {tag} has no valid assets list")
            if self._asset_name(release) is not None:
                usable.append((version, release))
        if not usable:
            raise UpdateError(
                f"{where}: no published release with a {self.process} zip for "
                f"{self._os}/{self._arch} and a semver tag"
            )
        return max(usable, key=lambda item: item[0])

    def _asset_name(self, release: Mapping[str, Any]) -> str | None:
        names = [a.get("name") for a in release["assets"]]
        return pick_asset(
            [n for n in names if isinstance(n, str)],
            self.process,
            self._os,
            self._arch,
            self.suffixes,
        )

    def _artifact_of(self, version: Version, release: Mapping[str, Any]) -> Artifact:
        tag = release["tag_name"]
        assets = {a["name"]: a for a in release["assets"] if isinstance(a.get("name"), str)}
        name = self._asset_name(release)
        assert name is not None
        asset = assets[name]
        url = asset.get("browser_download_url")
        if not isinstance(url, str):
            raise UpdateError(f"release {tag}: asset {name} has no download URL")
        check_url(url, self.allow_http, f"download URL of {name}")
        size = asset.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise UpdateError(f"release {tag}: asset {name} has no valid size")

        sha256 = self._checksum(tag, name, asset, assets)
        signature = None
        if self.public_key is not None:
            sig_asset = assets.get(name + ".sig")
            if sig_asset is None:
                raise UpdateError(
                    f"release {tag} has no {name}.sig, but updates.public_key requires one"
                )
            signature = parse_signature(self._side_file(tag, sig_asset), name + ".sig")
        if sha256 is None and signature is None:
            raise UpdateError(
                f"release {tag} publishes no checksum for {name} "
                f"(expected {name}.sha256 or checksums.txt)"
            )
        return Artifact(str(version), url, sha256, size, signature, self.public_key)

    def _checksum(
        self, tag: str, name: str, asset: Mapping[str, Any], assets: Mapping[str, Mapping[str, Any]]
    ) -> str | None:
        sources = [assets[name + ".sha256"]] if name + ".sha256" in assets else []
        sources += [a for n, a in assets.items() if n.lower().endswith(_CHECKSUM_LISTS)]
        for side in sources:
            data = self._side_file(tag, side)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise UpdateError(f"release {tag}: {side['name']} is not text") from None
            digest = parse_checksum(text, name, side["name"])
            if digest is not None:
                return digest
        digest_field = asset.get("digest")
        if isinstance(digest_field, str) and digest_field.startswith("sha256:"):
            value = digest_field.removeprefix("sha256:")
            if not _HEX64.fullmatch(value):
                raise UpdateError(f"release {tag}: asset {name} has a malformed digest")
            return value.lower()
        if sources:
            listed = ", ".join(s["name"] for s in sources)
            raise UpdateError(f"release {tag}: {listed} lists no SHA-256 for {name}")
        return None

    def _side_file(self, tag: str, asset: Mapping[str, Any]) -> bytes:
        url = asset.get("browser_download_url")
        if not isinstance(url, str):
            raise UpdateError(f"release {tag}: asset {asset.get('name')} has no download URL")
        fetched = self._http.get(
            url, what=f"release {tag} asset {asset.get('name')}", max_bytes=MAX_SIDE_FILE
        )
        assert fetched is not None
        return fetched.body
