from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

# `cigen check` runs on every commit. Its answer is a pure function of cigen's own code, the
# descriptor's bytes and name, the targets asked for and the input files the render read; when
# all of those and every output file hash the same as after a run that found nothing stale, the
# answer is again "current", and no parsing, validation or rendering is needed.


def cache_dir() -> Path:
    explicit = os.environ.get("CIGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cigen"


def current(config: Path, names: list[str]) -> bool:
    """True when a stored clean check still holds: same code, inputs and output bytes."""
    try:
        entry = json.loads(_entry_path(config, names).read_text("utf-8"))
        inputs, outputs = entry["inputs"], entry["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    root = config.parent
    if any(_digest(root / rel) != digest for rel, digest in inputs.items()):
        return False
    return all(
        _digest(root / rel) == digest and (not exe or _executable(root / rel))
        for rel, (digest, exe) in outputs.items()
    )


def store(
    config: Path, names: list[str], inputs: list[str], outputs: dict[str, tuple[str, bool]]
) -> None:
    """Record a clean check: the inputs as they are now, and each output's text (equal to the
    file on disk, which the check just compared) with its exe flag."""
    root = config.parent
    entry = {
        "inputs": {rel: _digest(root / rel) for rel in inputs},
        "outputs": {
            rel: [hashlib.sha256(text.encode()).hexdigest(), exe]
            for rel, (text, exe) in outputs.items()
        },
    }
    import tempfile

    try:
        target = _entry_path(config, names)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f, sort_keys=True)
        os.replace(tmp, target)
    except OSError:
        pass  # a cache that cannot be written only costs speed


def _entry_path(config: Path, names: list[str]) -> Path:
    key = hashlib.sha256()
    for part in (_code_digest(), config.name, "\0".join(names), _digest(config)):
        key.update(part.encode() + b"\0")
    return cache_dir() / f"check-{key.hexdigest()}.json"


def _code_digest() -> str:
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and path.is_file():
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "absent"


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
