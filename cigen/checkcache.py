from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from cigen import inputs
from cigen.core import is_executable

if TYPE_CHECKING:
    from cigen.core import Output

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
        _digest(root / rel) == digest and (not exe or is_executable((root / rel).stat().st_mode))
        for rel, (digest, exe) in outputs.items()
    )


def store(config: Path, names: list[str], inputs: list[str], outputs: Iterable[Output]) -> None:
    """Record a clean check: the inputs as they are now, and each output's text (equal to the
    file on disk, which the check just compared) with its exec flag."""
    root = config.parent
    entry = {
        "inputs": {rel: _digest(root / rel) for rel in inputs},
        "outputs": {
            o.path: [hashlib.sha256(o.text.encode()).hexdigest(), o.executable] for o in outputs
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
    """Every file of the installed package, code and data, wherever its parts are installed
    (an editable install keeps the schemas outside the code's folder)."""
    import importlib

    parts = [*importlib.import_module("cigen").__path__]
    parts += importlib.import_module("cigen.schemas").__path__
    digest = hashlib.sha256()
    for part in parts:
        for folder, dirs, names in os.walk(part):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                path = Path(folder, name)
                digest.update(str(path.relative_to(part)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _digest(path: Path) -> str:
    """A file's digest, or why there is none; a FIFO or device is never read (it could block or
    never end), so it never matches a stored digest and the full check reports it."""
    try:
        return hashlib.sha256(inputs.read(path)).hexdigest()
    except FileNotFoundError:
        return "absent"
    except OSError as e:
        return f"unreadable: {type(e).__name__}"

