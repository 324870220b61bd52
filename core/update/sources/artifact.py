"""What a web release source promises about one release file.

The storj and github sources produce an :class:`Artifact` per release:
where to download it and what the downloaded file must match. The
downloader fetches ``url`` and calls :meth:`Artifact.verify` on the
complete file before anything is unpacked. Storj's version server
publishes no hashes or signatures (the smoke test that runs ``{binary}
version`` is the only check there); GitHub releases carry a SHA-256 and,
when the operator configured ``public_key``, an ed25519 signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nodekeeper.core.update.errors import VerificationError

if TYPE_CHECKING:  # requests loads lazily: the core stays small until it checks
    import requests

    from nodekeeper.core.update.sources.http import HttpClient

# Bound for artifacts whose size nobody published (Storj's version server).
MAX_ARTIFACT_BYTES = 1 << 30


def platform_names(os_name: str | None = None, arch: str | None = None) -> tuple[str, str]:
    """This machine's ``{os}``/``{arch}`` in Go's names, unless given."""
    if os_name is not None and arch is not None:
        return os_name, arch
    from nodekeeper.core.platform.ids import current_arch, current_os

    return (os_name or current_os(), arch or current_arch())


@dataclass(frozen=True)
class Artifact:
    version: str
    url: str
    sha256: str | None = None  # lowercase hex
    size: int | None = None
    # Detached ed25519 signature over the whole file, and the key it must verify with.
    signature: bytes | None = None
    public_key: bytes | None = None

    def verify(self, path: Path) -> None:
        """Raise VerificationError unless the file at ``path`` is this artifact."""
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise VerificationError(f"cannot read downloaded {path.name}: {exc.strerror}") from None
        if self.size is not None and size != self.size:
            raise VerificationError(
                f"{path.name} for {self.version} has {size} bytes, expected {self.size}; discarded"
            )
        if self.sha256 is not None and digest.hexdigest() != self.sha256:
            raise VerificationError(
                f"{path.name} for {self.version} does not match its published SHA-256; discarded"
            )
        if self.public_key is not None:
            self._verify_signature(path)

    def _verify_signature(self, path: Path) -> None:
        from nacl.exceptions import BadSignatureError
        from nacl.signing import VerifyKey

        if self.signature is None:
            raise VerificationError(f"{path.name} for {self.version} has no signature")
        assert self.public_key is not None
        try:
            VerifyKey(self.public_key).verify(path.read_bytes(), self.signature)
        except BadSignatureError:
            raise VerificationError(
                f"{path.name} for {self.version} is not signed by the configured public_key; discarded"
            ) from None
        except OSError as exc:
            raise VerificationError(f"cannot read downloaded {path.name}: {exc.strerror}") from None


def download_artifact(
    artifact: Artifact,
    downloads_dir: Path,
    *,
    session: requests.Session | None,
    allow_http: bool,
    min_free_space: int,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download (resumable) and verify; a file that fails verification is deleted."""
    from nodekeeper.core.update.download import download_file

    path = download_file(
        artifact.url,
        downloads_dir,
        expected_length=artifact.size,
        expected_sha256=artifact.sha256,
        max_length=artifact.size or MAX_ARTIFACT_BYTES,
        min_free_space=min_free_space,
        progress=progress,
        session=session,
        allow_http=allow_http,
    )
    try:
        artifact.verify(path)
    except VerificationError:
        path.unlink(missing_ok=True)
        raise
    return path


class DownloadsArtifacts:
    """The download step shared by the web sources (storj, github).

    Subclasses set ``allow_http`` and ``_http`` (their :class:`HttpClient`).
    """

    allow_http: bool
    _http: HttpClient

    def download(
        self,
        artifact: Artifact,
        downloads_dir: Path,
        *,
        min_free_space: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """Download ``artifact`` into ``downloads_dir`` (resuming) and return the verified file."""
        return download_artifact(
            artifact,
            downloads_dir,
            session=self._http.session,
            allow_http=self.allow_http,
            min_free_space=min_free_space,
            progress=progress,
        )
