from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_CONFIG = """\
version: 0.1
log: {{level: warn}}
storage: {{filesystem: {{rootdirectory: {root}}}, delete: {{enabled: true}}}}
http: {{addr: 127.0.0.1:{port}}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(binary: str, folder: Path) -> Iterator[str]:
    """A docker-registry (distribution) on a loopback port; yields its host:port."""
    port = free_port()
    config = folder / "registry.yml"
    config.write_text(_CONFIG.format(root=folder / "data", port=port))
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log,  # noqa: S603
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_ready(f"127.0.0.1:{port}", process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_ready(host: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited {process.returncode}")
        try:
            get(host, "/v2/")
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"docker-registry on {host} did not answer")


def get(host: str, path: str) -> object:
    with urllib.request.urlopen(f"http://{host}{path}", timeout=5) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def manifest(host: str, repository: str, reference: str,
             accept: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """GET /v2/<name>/manifests/<reference> asking for the media types in `accept`: the
    type the registry answered with, and the manifest (distribution docs/spec/api.md)."""
    request = urllib.request.Request(f"http://{host}/v2/{repository}/manifests/{reference}",
                                     headers={"Accept": ", ".join(accept)})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.headers.get_content_type(), json.loads(response.read())


def blob(host: str, repository: str, digest: str) -> bytes:
    """GET /v2/<name>/blobs/<digest>: a config or layer, as stored."""
    url = f"http://{host}/v2/{repository}/blobs/{digest}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
        data: bytes = response.read()
        return data


def tags(host: str, repository: str) -> list[str]:
    """The tags the registry holds for `repository` (host part excluded)."""
    answer = get(host, f"/v2/{repository}/tags/list")
    assert isinstance(answer, dict)
    return sorted(answer.get("tags") or [])
