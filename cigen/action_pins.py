"""Action pins: owner/repo -> (release tag, its commit SHA), as cigen/data/action-pins.json and a
repository's github.action_pins file hold them. Reading them costs no YAML import."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any, NamedTuple

SHIPPED = "cigen/data/action-pins.json"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Pin(NamedTuple):
    tag: str  # release tag, e.g. v7.0.1
    sha: str  # the commit that tag points to


def parse(text: str) -> dict[str, Pin]:
    """The pins of a pins file's text; ValueError says what is wrong with it."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"is not JSON: {e}") from None
    actions = data.get("actions") if isinstance(data, dict) else None
    if not isinstance(actions, dict):
        raise ValueError('has no "actions" object of owner/repo: {"tag": ..., "sha": ...}')
    pins, wrong = {}, []
    for repo, entry in actions.items():
        tag = entry.get("tag") if isinstance(entry, dict) else None
        sha = entry.get("sha") if isinstance(entry, dict) else None
        if not (_REPO.match(repo) and isinstance(tag, str) and _TAG.match(tag)
                and isinstance(sha, str) and _SHA.match(sha)):
            wrong.append(repo)
            continue
        pins[repo] = Pin(tag, sha)
    if wrong:
        raise ValueError("actions " + ", ".join(wrong) + " need a release tag and a 40-digit "
                         "lower-case commit SHA")
    return pins


@functools.lru_cache(maxsize=1)
def shipped() -> Mapping[str, Pin]:
    """The pins cigen ships, by owner/repo: its own data, read as it is."""
    text = resources.files("cigen").joinpath("data", "action-pins.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return {repo: Pin(entry["tag"], entry["sha"]) for repo, entry in data["actions"].items()}
