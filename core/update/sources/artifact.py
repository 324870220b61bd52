"""What a web release source promises about one release file.

The storj and github sources produce an :class:`Artifact` per release:
where to download it and what the downloaded file must match. The
downloader checks all of it while the file streams in (one
:class:`StreamVerifier`: length, SHA-256, signature), before anything is
unpacked; :meth:`Artifact.verify` runs the same check over a file on disk.
Storj's version server
publishes no hashes or signatures (the smoke test that runs ``{binary}
version`` is the only check there); GitHub releases carry a SHA-256 and,
when the operator configured ``public_key``, an ed25519 signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nodekeeper.core.update.errors import VerificationError
from nodekeeper.core.update.verify import StreamVerifier

if TYPE_CHECKING:
    from nodekeeper.core.transport.base import BaseTransport
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

    def verifier(self) -> StreamVerifier:
        """What the file must match: size, SHA-256 and, with a public key, the signature."""
        return StreamVerifier(
            length=self.size,
            sha256=self.sha256,
            signature=self.signature,
            public_key=self.public_key,
        )

    def verify(self, path: Path) -> None:
        """Raise VerificationError unless the file at ``path`` is this artifact."""
        verifier = self.verifier()
        try:
            verifier.update_from_file(path)
        except OSError as exc:
            raise VerificationError(f"cannot read downloaded {path.name}: {exc.strerror}") from None
        problem = verifier.mismatch()
        what = f"{path.name} for {self.version}"
        if problem == "length":
            raise VerificationError(
                f"{what} has {verifier.size} bytes, expected {self.size}; discarded"
            )
        if problem == "sha256":
            raise VerificationError(f"{what} does not match its published SHA-256; discarded")
        if problem == "signature":
            raise VerificationError(f"{what} is not signed by the configured public_key; discarded")


def download_artifact(
    artifact: Artifact,
    downloads_dir: Path,
    *,
    transport: BaseTransport,
    allow_http: bool,
    min_free_space: int,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download (resumable), verifying while it streams; a file that fails is deleted."""
    from nodekeeper.core.update.download import download_file

    return download_file(
        artifact.url,
        downloads_dir,
        expected_length=artifact.size,
        expected_sha256=artifact.sha256,
        max_length=artifact.size or MAX_ARTIFACT_BYTES,
        min_free_space=min_free_space,
        progress=progress,
        transport=transport,
        allow_http=allow_http,
        signature=artifact.signature,
        public_key=artifact.public_key,
    )


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
            transport=self._http.transport,
            allow_http=self.allow_http,
            min_free_space=min_free_space,
            progress=progress,
        )
