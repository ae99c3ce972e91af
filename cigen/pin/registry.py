from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from cigen import inputs, refs, remote
from cigen.errors import CigenError, RemoteError
from cigen.refs import ImageRef
from cigen.remote import Credentials, Reply

Endpoint = Callable[[str], str]  # registry API host -> base URL
_TAG_PAGE = 1000
_MAX_TAG_PAGES = 50  # Docker Hub's erlang repository has a few thousand tags: a few pages
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def default_endpoint(host: str) -> str:
    return f"{'http' if refs.is_loopback(host) else 'https'}://{host}"


class Registry:
    """Resolves image tags to manifest digests through the registry HTTP API v2."""

    def __init__(
        self,
        client: remote.Client,
        auths: Mapping[str, Credentials] | None = None,
        endpoint: Endpoint = default_endpoint,
    ) -> None:
        self.client, self.auths, self.endpoint = client, dict(auths or {}), endpoint

    def digest(self, ref: ImageRef) -> str:
        """The digest `ref`'s tag points to now: an index's digest for a multi-platform image."""
        what = ref.canonical
        url = f"{self.endpoint(ref.api_host)}/v2/{ref.path}/manifests/{ref.tag or 'latest'}"
        # GET, not HEAD: the body is what the digest is checked against.
        reply = self._ask(ref, what, url, {"Accept": ", ".join(remote.MANIFEST_TYPES)})
        digest = remote.verify_digest(what, reply)
        _verify_manifest(what, reply)
        return digest

    def tags(self, ref: ImageRef) -> list[str]:
        """Every tag of `ref`'s repository, following the registry's `Link: rel="next"` pages."""
        what = f"{ref.domain}/{ref.path}: tag list"
        url: str | None = f"{self.endpoint(ref.api_host)}/v2/{ref.path}/tags/list?n={_TAG_PAGE}"
        found: list[str] = []
        for _ in range(_MAX_TAG_PAGES):
            if url is None:
                return found
            reply = self._ask(ref, what, url, {})
            body = remote.json_body(what, reply)
            page = (body.get("tags") or []) if isinstance(body, dict) else None
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise RemoteError(f"{what}: the answer has no list of tags")
            found += page
            url = _next_page(url, reply.header("Link"))
        raise RemoteError(f"{what}: more than {_MAX_TAG_PAGES} pages")

    def _ask(self, ref: ImageRef, what: str, url: str, headers: dict[str, str]) -> Reply:
        """GET with the registry's token dance; any answer but 200 raises, with a hint."""
        reply = self._get(what, url, headers)
        if reply.status == 401:
            headers = {**headers, "Authorization": self._authorization(ref, reply)}
            reply = self._get(what, url, headers)
        if reply.status != 200:
            raise _with_hint(remote.status_error(what, reply), ref, reply.status)
        return reply

    def _get(
        self, what: str, url: str, headers: dict[str, str], query: dict[str, str] | None = None
    ) -> Reply:
        try:
            return self.client.get(url, headers, query)
        except RemoteError as e:  # a transport failure names the host; say what was asked
            raise RemoteError(f"{what}: {e}") from e

    def _authorization(self, ref: ImageRef, reply: Reply) -> str:
        scheme, params = remote.parse_challenge(reply.header("WWW-Authenticate"))
        credentials = self.auths.get(ref.domain)
        if scheme == "bearer" and params.get("realm"):
            return "Bearer " + self._token(ref, params, credentials)
        if scheme == "basic" and credentials:
            return remote.basic(credentials)
        raise _with_hint(remote.status_error(ref.canonical, reply), ref, 401)

    def _token(
        self, ref: ImageRef, challenge: dict[str, str], credentials: Credentials | None
    ) -> str:
        realm = challenge["realm"]
        what = f"{ref.canonical}: token service {urlsplit(realm).netloc}"
        query = {"service": challenge["service"]} if "service" in challenge else {}
        query["scope"] = challenge.get("scope") or f"repository:{ref.path}:pull"
        # Basic credentials go to the realm the registry names, as `docker pull` does; only over
        # https (the client refuses plain http beyond loopback).
        headers = {"Authorization": remote.basic(credentials)} if credentials else {}
        reply = self._get(what, realm, headers, query)
        if reply.status != 200:
            raise _with_hint(remote.status_error(what, reply), ref, reply.status, bool(credentials))
        body = remote.json_body(what, reply)
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RemoteError(f"{what}: the answer holds no token")
        return token


def _next_page(url: str, link: str) -> str | None:
    """The next page's URL from a `Link` header, on the registry the list came from."""
    found = _NEXT.search(link)
    if not found:
        return None
    target: str = urljoin(url, found.group(1))
    if urlsplit(target).netloc != urlsplit(url).netloc:
        raise RemoteError(f"{url}: the next page of tags is on another host ({target})")
    return target


def _with_hint(
    error: RemoteError, ref: ImageRef, status: int, had_credentials: bool = False
) -> RemoteError:
    login = f"docker login {ref.domain}"
    hints = {
        401: (
            f"the credentials for {ref.domain} in the Docker config were rejected; run: {login}"
            if had_credentials
            else f"the repository may not exist, or it needs credentials: run `{login}`"
        ),
        403: f"check that your account can pull {ref.path}",
        404: f"check the tag {ref.tag or 'latest'!r} and the repository {ref.path!r}",
    }
    hint = hints.get(status)
    return RemoteError(f"{error}; {hint}") if hint else error


def _verify_manifest(what: str, reply: Reply) -> None:
    body = remote.json_body(what, reply)
    if not isinstance(body, dict) or body.get("schemaVersion") != 2:
        raise RemoteError(f"{what}: the answer is not an image manifest (schemaVersion 2)")
    media = reply.header("Content-Type").split(";")[0].strip() or str(body.get("mediaType", ""))
    if media not in remote.MANIFEST_TYPES:
        raise RemoteError(f"{what}: unsupported manifest type {media or '(none)'}; cannot pin it")


def docker_auths(env: Mapping[str, str]) -> dict[str, Credentials]:
    """Registry host -> (user, password) from the Docker config's `auths` (no cred helpers)."""
    folder = (
        Path(env["DOCKER_CONFIG"])
        if env.get("DOCKER_CONFIG")
        else Path(env.get("HOME") or Path.home()) / ".docker"
    )
    path = folder / "config.json"
    try:
        data = json.loads(inputs.read(path, 1 << 20).decode("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise CigenError(f"{path}: cannot read: {e.strerror}") from e
    except (ValueError, RecursionError) as e:
        raise CigenError(f"{path}: not valid JSON: {e}") from e
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return {}
    return {
        _host_of(key): _decode(path, key, entry) for key, entry in auths.items() if _encoded(entry)
    }


def _encoded(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("auth"), str) and bool(entry["auth"])


def _decode(path: Path, key: str, entry: dict[str, str]) -> Credentials:
    try:
        user, sep, password = (
            base64.b64decode(entry["auth"], validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise CigenError(f"{path}: auths[{key!r}].auth is not the base64 of user:password")
    return user, password


def _host_of(key: str) -> str:
    netloc = urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
    return refs.normalize_host(netloc)
