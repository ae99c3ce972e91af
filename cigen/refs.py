from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
# Docker Hub's names for itself in references and in ~/.docker/config.json; its API lives elsewhere.
_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_HUB_API = "registry-1.docker.io"

# The distribution reference grammar (github.com/distribution/reference, regexp.go).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
# Hosts as loosely as the descriptor schema takes them: a bad host fails at DNS, with its name.
_DOMAIN = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """An image reference split the way registries read it; `name` is the name as written."""

    name: str  # e.g. "erlang" or "ghcr.io/acme/app"
    domain: str  # normalized: "docker.io" for Docker Hub
    path: str  # repository path: "library/erlang"
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        """Host (and port) that serves the registry API for this reference."""
        return _HUB_API if self.domain == DOCKER_HUB else self.domain

    @property
    def canonical(self) -> str:
        """Fully qualified form, e.g. docker.io/library/erlang:latest."""
        text = f"{self.domain}/{self.path}"
        if self.tag or not self.digest:
            text += f":{self.tag or 'latest'}"
        return text + (f"@{self.digest}" if self.digest else "")

    def pinned(self, digest: str) -> str:
        """The reference as written, with its tag (latest when none) and `digest`."""
        return f"{self.name}:{self.tag or 'latest'}@{digest}"


def parse(text: str) -> ImageRef:
    """Parse `text` as an image reference; ValueError says what is wrong."""
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise ValueError(f"{text!r}: the digest is not sha256:<64 hex digits>")
    name, tag = _split_tag(rest)
    if tag is not None and not _TAG.fullmatch(tag):
        raise ValueError(f"{text!r}: {tag!r} is not a valid tag")
    domain, path = split_domain(name)
    # fullmatch: `$` alone also matches before a final newline ("app\n" would pass)
    if not _PATH.fullmatch(path) or (domain != DOCKER_HUB and not _DOMAIN.fullmatch(domain)):
        raise ValueError(
            f"{text!r}: not an image name (lowercase path components after a registry host)"
        )
    return ImageRef(name, domain, path, tag, digest or None)


def _split_tag(text: str) -> tuple[str, str | None]:
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1 :]
    return text, None


def split_domain(name: str) -> tuple[str, str]:
    """Registry host and repository path; Docker Hub's official images get `library/`."""
    first, sep, rest = name.partition("/")
    # The first component is a host only when it looks like one (Docker's own rule).
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = normalize_host(first), rest
    else:
        domain, path = DOCKER_HUB, name
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return domain, path


def normalize_host(host: str) -> str:
    """A registry host as references and credential stores name it; Docker Hub's aliases unified."""
    host = host.lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def is_loopback(host: str) -> bool:
    """Whether `host` (with an optional port) is this machine: the only place plain HTTP is used."""
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    bare = bare.strip("[]").lower()
    if bare == "localhost":
        return True
    try:  # decided on the parsed address: 127.0.0.1.example.com is a public name
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False
