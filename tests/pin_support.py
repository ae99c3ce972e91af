# Loopback servers for the pin tests: Debian's docker-registry, and a scriptable HTTP server.
from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from cigen.remote import Client
from tests.oracles import tool

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@contextmanager
def docker_registry(root: Path) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1 with storage under `root`; yields its base URL."""
    binary = tool("docker-registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    log = (root / "registry.log").open("w")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, root / "registry.log")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited {proc.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{base}/v2/", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"docker-registry not ready in 15 s:\n{log.read_text()}")


def push_blob(base: str, repo: str, data: bytes) -> str:
    digest = sha256(data)
    start = requests.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=5)
    assert start.status_code == 202, start.text
    location = requests.compat.urljoin(base, start.headers["Location"])
    put = requests.put(
        location,
        params={"digest": digest},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=5,
    )
    assert put.status_code == 201, put.text
    return digest


def push_manifest(base: str, repo: str, tag: str, manifest: dict[str, object], media: str) -> str:
    body = json.dumps(manifest, indent=3).encode()  # unusual spacing: the digest is of these bytes
    put = requests.put(
        f"{base}/v2/{repo}/manifests/{tag}", data=body, headers={"Content-Type": media}, timeout=5
    )
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == sha256(body)
    return put.headers["Docker-Content-Digest"]


def push_image(base: str, repo: str, tag: str, marker: str = "") -> str:
    """A minimal OCI image (config blob, no layers), distinct per `marker`; its digest."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"m": marker}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    config_digest = push_blob(base, repo, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [],
    }
    return push_manifest(base, repo, tag, manifest, OCI_MANIFEST)


def push_index(base: str, repo: str, tag: str, manifests: list[str]) -> str:
    """An OCI index over manifests already in `repo` (one per platform); its digest."""
    entries = []
    for digest, arch in zip(manifests, ("amd64", "arm64", "s390x"), strict=False):
        size = len(
            requests.get(
                f"{base}/v2/{repo}/manifests/{digest}", timeout=5, headers={"Accept": OCI_MANIFEST}
            ).content
        )
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": size,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    return push_manifest(
        base,
        repo,
        tag,
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
        OCI_INDEX,
    )


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


Route = Callable[[Seen], Answer]


class FakeServer:
    """An HTTP server on 127.0.0.1 that answers with `route(request)` and records every request."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                request = Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()})
                outer.seen.append(request)
                answer = outer.route(request)
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (the timeout test) is not a server failure

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeServer:
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def proxy_to(base: str, seen: Seen) -> Answer:
    """Relay a GET to the real registry at `base` (used behind fakes that add auth or faults)."""
    keep = {k: v for k, v in seen.headers.items() if k in ("accept",)}
    r = requests.get(base + seen.path, headers=keep, timeout=5)
    headers = {
        k: v for k, v in r.headers.items() if k.lower() in ("content-type", "docker-content-digest")
    }
    return Answer(r.status_code, headers, r.content)


def quick_client(sleeps: list[float] | None = None) -> Client:
    return Client(
        timeout=2, retries=2, backoff=0.25, sleep=(sleeps if sleeps is not None else []).append
    )


def host(base: str) -> str:
    return base.split("://", 1)[1]


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cigen.yaml"
    config.write_bytes(text.encode())
    return config
