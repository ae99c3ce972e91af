from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from cigen import __version__, refs
from cigen.core import printable
from cigen.errors import RemoteError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
_RETRIED = frozenset({429, 500, 502, 503, 504})
_MAX_REDIRECTS = 5
_MAX_WAIT = 30.0  # seconds; a longer Retry-After is capped, not obeyed
_MAX_BODY = 4 * 1024 * 1024  # registries refuse manifests over 4 MiB; nothing here needs more
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^",\s]+))')

Credentials = tuple[str, str]


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, detached from the HTTP library."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]  # names lower-cased
    content: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class Client:
    """HTTP GET: timeouts, retries with backoff on 429/5xx, redirects that keep secrets home."""

    def __init__(
        self,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float = 60.0,
    ) -> None:
        self.timeout, self.retries, self.backoff, self.sleep = timeout, retries, backoff, sleep
        self.deadline = deadline  # for one whole answer: a server may drip bytes forever
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"cigen/{__version__}"

    def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """GET `url`; the last answer after retries, whatever its status. Transport errors raise."""
        for attempt in range(self.retries + 1):
            response = self._follow(url, dict(headers or {}), params)
            if response.status not in _RETRIED or attempt == self.retries:
                return response
            self.sleep(self._wait(response, attempt))
        raise AssertionError("unreachable")

    def _wait(self, response: Reply, attempt: int) -> float:
        after = response.header("Retry-After")
        seconds = float(after) if re.fullmatch("[0-9]{1,6}", after) else self.backoff * 2**attempt
        return min(seconds, _MAX_WAIT)

    def _follow(self, url: str, headers: dict[str, str], params: Mapping[str, str] | None) -> Reply:
        # Redirects are followed here, not by requests, so that a hop to another origin never
        # carries the Authorization header and a hop from https to plain http is refused.
        for _ in range(_MAX_REDIRECTS + 1):
            _require_scheme(url)
            response = self._send(url, headers, params)
            location = response.header("Location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            target = urljoin(response.url, location)
            if _origin(target) != _origin(url):
                headers.pop("Authorization", None)
            url, params = target, None
        raise RemoteError(f"more than {_MAX_REDIRECTS} redirects, the last to {url}")

    def _send(self, url: str, headers: dict[str, str], params: Mapping[str, str] | None) -> Reply:
        """One request within the deadline. requests times out each read, not the whole
        answer, so the request runs in a daemon thread that is abandoned when time is up."""
        done: list[Reply | BaseException] = []

        def attempt() -> None:
            try:
                done.append(self._request(url, headers, params))
            except BaseException as e:  # handed to the caller's thread  # noqa: BLE001
                done.append(e)

        worker = threading.Thread(target=attempt, daemon=True)
        worker.start()
        worker.join(self.deadline)
        if not done:
            raise RemoteError(f"{_host(url)} did not answer within {self.deadline:g} s")
        if isinstance(done[0], BaseException):
            raise done[0]
        return done[0]

    def _request(
        self, url: str, headers: dict[str, str], params: Mapping[str, str] | None
    ) -> Reply:
        try:
            with self.session.get(
                url,
                headers=headers,
                params=params,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as r:
                content = _read_capped(r, _host(url))
        except requests.RequestException as e:
            raise _transport_error(_host(url), e, self.timeout) from e
        lowered = {k.lower(): v for k, v in r.headers.items()}
        return Reply(r.url, r.status_code, r.reason or "", lowered, content)


def _read_capped(response: requests.Response, host: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_BODY:
            raise RemoteError(
                f"the answer from {host} is over {_MAX_BODY // 1024 // 1024} MiB; refusing it"
            )
    return b"".join(chunks)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _host(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]


def _require_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (scheme == "http" and refs.is_loopback(_host(url))):
        raise RemoteError(
            f"refusing {scheme or 'schemeless'} URL {url}; only https leaves this machine"
        )


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[Any] = [error]
    while todo:
        e = todo.pop()
        if isinstance(e, BaseException) and id(e) not in seen:
            seen.add(id(e))
            yield e
            todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]


def _transport_error(host: str, e: requests.RequestException, timeout: float) -> RemoteError:
    causes = list(_causes(e))
    if isinstance(e, requests.exceptions.SSLError):
        return RemoteError(
            f"TLS with {host} failed (certificate or protocol): {_innermost(causes)}"
        )
    if isinstance(e, requests.Timeout) or any("Timeout" in type(c).__name__ for c in causes):
        return RemoteError(f"no answer from {host} within {timeout:g} s (timeout)")
    if any("NameResolution" in type(c).__name__ or type(c).__name__ == "gaierror" for c in causes):
        return RemoteError(
            f"cannot resolve {_hostname(host)} (DNS); check the spelling and your network"
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return RemoteError(f"connection refused by {host}; is the server running on that port?")
    return RemoteError(f"cannot connect to {host}: {_innermost(causes)}")


def _hostname(host: str) -> str:
    return urlsplit(f"//{host}").hostname or host


def _innermost(causes: list[BaseException]) -> str:
    return str(causes[-1]) if causes else "unknown error"


def get_ok(client: Client, url: str, headers: Mapping[str, str], what: str) -> Reply:
    """GET `url` and insist on 200; every failure is a RemoteError that says what was asked."""
    try:
        reply = client.get(url, headers)
    except RemoteError as e:
        raise RemoteError(f"{what}: {e}") from e
    if reply.status != 200:
        raise status_error(what, reply)
    return reply


def status_error(what: str, response: Reply) -> RemoteError:
    """A clear error for an unexpected HTTP status, with the server's own message if it sent one."""
    code = response.status
    reason = {
        401: "401 Unauthorized: credentials are missing or were rejected",
        403: "403 Forbidden: these credentials may not read it",
        404: "404 Not Found",
        429: "429 Too Many Requests: rate limited, still after retries",
    }.get(
        code,
        f"{code} {printable(response.reason) or 'error'}"
        + (", still after retries" if code in _RETRIED else ""),
    )
    if code == 403 and response.header("X-RateLimit-Remaining") == "0":
        reason = "403: API rate limit reached; set GITHUB_TOKEN"
    detail = _server_message(response)
    return RemoteError(f"{what}: {reason}" + (f" ({detail})" if detail else ""))


def _server_message(response: Reply) -> str:
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return ""
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        return printable(
            str(first.get("message") or first.get("code") or "") if isinstance(first, dict) else ""
        )
    return printable(str(body.get("message", ""))) if isinstance(body, dict) else ""


def json_body(what: str, response: Reply) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError) as e:
        raise RemoteError(
            f"{what}: malformed JSON in the answer from {_host(response.url)}: {e}"
        ) from e


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="..."` -> ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        k.lower(): (quoted if quoted else plain).replace('\\"', '"')
        for k, quoted, plain in _CHALLENGE_PARAM.findall(rest)
    }
    return scheme.lower(), params


def basic(credentials: Credentials) -> str:
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


def verify_digest(what: str, response: Reply) -> str:
    """The manifest's sha256 digest; when the registry states one, it must match the body."""
    body = response.content
    computed = "sha256:" + hashlib.sha256(body).hexdigest()
    stated = response.header("Docker-Content-Digest").strip()
    if stated:
        algorithm, _, expected = stated.partition(":")
        if algorithm not in ("sha256", "sha512"):
            raise RemoteError(
                f"{what}: the registry states a {algorithm!r} digest; "
                "only sha256 and sha512 are checked"
            )
        if hashlib.new(algorithm, body).hexdigest() != expected:
            raise RemoteError(
                f"{what}: the manifest does not match the digest the registry states ({stated}); "
                "refusing to pin it"
            )
    return computed
