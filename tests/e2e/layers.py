from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.buildah import Buildah

# Every layer of an image, as the registry would get it: `buildah push` into an OCI layout
# folder (the oci: transport), uncompressed (--disable-compression, buildah 1.28
# cmd/buildah/push.go), then read blob by blob. A layer is a tar of what its step changed,
# deletions as whiteout entries, so a file a later step removed is still found.
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Layer:
    digest: str
    path: Path
    media_type: str


@dataclass(frozen=True)
class Exported:
    folder: Path
    config: Path  # the image config blob: env, history, labels
    layers: list[Layer]


def export(buildah: Buildah, image: str, folder: Path) -> Exported:
    buildah("push", "--quiet", "--disable-compression", image, f"oci:{folder}", timeout=900)
    index = json.loads((folder / "index.json").read_text())
    [entry] = index["manifests"]
    manifest = json.loads(_blob(folder, entry["digest"]).read_text())
    layers = [Layer(d["digest"], _blob(folder, d["digest"]), d["mediaType"])
              for d in manifest["layers"]]
    return Exported(folder, _blob(folder, manifest["config"]["digest"]), layers)


def _blob(folder: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return folder / "blobs" / algorithm / hexdigest


@contextmanager
def _stream(layer: Layer) -> Iterator[io.BufferedIOBase]:
    with layer.path.open("rb") as raw:
        if layer.media_type.endswith("+gzip"):
            with gzip.open(raw) as unpacked:
                yield unpacked
        else:
            yield raw


def find(path_or_stream: Path | io.BufferedIOBase, needles: Mapping[str, bytes]) -> set[str]:
    """Labels of the needles found anywhere in the bytes: names, headers and contents."""
    if isinstance(path_or_stream, Path):
        with path_or_stream.open("rb") as stream:
            return find(stream, needles)
    keep = max(len(n) for n in needles.values()) - 1
    found: set[str] = set()
    tail = b""
    while chunk := path_or_stream.read(_CHUNK):
        window = tail + chunk
        found |= {label for label, needle in needles.items() if needle in window}
        tail = window[-keep:] if keep else b""
    return found


def scan(image: Exported, needles: Mapping[str, bytes]) -> dict[str, set[str]]:
    """Per layer digest (and "config"), the needles it holds; only those that hold one."""
    found = {"config": find(image.config, needles)}
    for layer in image.layers:
        with _stream(layer) as stream:
            found[layer.digest] = find(stream, needles)
    return {where: labels for where, labels in found.items() if labels}


def entries(image: Exported) -> dict[str, list[tarfile.TarInfo]]:
    """Per layer digest, its tar entries (paths without a leading ./ or /)."""
    listed = {}
    for layer in image.layers:
        with _stream(layer) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            members = []
            for member in tar:
                member.name = member.name.removeprefix("./").lstrip("/")
                members.append(member)
            listed[layer.digest] = members
    return listed
