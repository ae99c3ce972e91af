from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cigen import files
from cigen.core import Output
from cigen.errors import CigenError, RemoteError
from cigen.remote import Client, get_ok, json_body

GITHUB_API = "https://api.github.com"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_FIELDS = (("tag", "sha"), ("major", "major_sha"))  # a release tag and its moving major tag
_MAX_NESTING = 4  # an annotated tag may tag another tag


_ABOUT = (
    "Commit SHAs of the action release tags the workflows cigen renders here use (the "
    "descriptor's github.action_pins), read from each action repository's git tags (annotated "
    "tags peeled to their commit); an action missing here takes the pin cigen ships. Refresh "
    "with `cigen pin --actions`; written first from the pins cigen {version} ships."
)


def shipped() -> dict[str, Any]:
    """The pins cigen ships (cigen/data/action-pins.json), as data a repository's file starts
    from; cigen never writes into its own package."""
    from importlib import resources

    from cigen import __version__

    text = resources.files("cigen").joinpath("data", "action-pins.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return {"_about": _ABOUT.format(version=__version__), "actions": data["actions"]}


def refresh(
    path: Path,
    client: Client,
    check: bool,
    keep_going: bool,
    token: str | None,
    api: str = GITHUB_API,
) -> int:
    """Re-read each pinned action tag's commit from the GitHub API; write the file if one moved,
    or if it did not exist (then it starts from the shipped pins)."""
    data = _load(path)
    created = data is None
    if data is None:
        data = shipped()
        print(f"{path}: no such file; starting from the action pins cigen ships")
    changes, failed = [], []
    for name, entry in data["actions"].items():
        for tag_field, sha_field in _FIELDS:
            tag = entry.get(tag_field) if isinstance(entry, dict) else None
            if not isinstance(tag, str):
                continue
            try:
                sha = tag_commit(client, api, _repository(name), tag, token)
            except RemoteError as e:
                failed.append(f"{path}: {name}: {e}")
                continue
            if entry.get(sha_field) != sha:
                changes.append(f"{name} {tag}: {entry.get(sha_field)} -> {sha}")
                entry[sha_field] = sha
    return _finish(path, data, changes, failed, check, keep_going, created)


def _finish(
    path: Path,
    data: dict[str, Any],
    changes: list[str],
    failed: list[str],
    check: bool,
    keep_going: bool,
    created: bool = False,
) -> int:
    if failed and not keep_going:
        kept = "not created" if created else "unchanged"
        raise RemoteError("\n".join([*failed, f"{path}: {kept}; nothing written"]))
    for line in changes:
        print(("moved: " if check else "") + line, file=sys.stderr if check else sys.stdout)
    for line in failed:
        print(line, file=sys.stderr)
    if (changes or created) and not check:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)  # a new file's folder, e.g. .github
        files.write([Output(path.name, text, "pin")], path.parent, force=True)
        print(f"wrote {path}")
    if not changes:
        print(f"{path}: every action pin is current")
    return 1 if failed or (check and changes) else 0


def _load(path: Path) -> dict[str, Any] | None:
    """The pins file's data; None when there is no such file."""
    text = files.read(path.parent, path.name)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CigenError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("actions"), dict):
        raise CigenError(
            f'{path}: expected {{"actions": {{"owner/repo": {{"tag": ..., "sha": ...}}}}}}'
        )
    return data


def _repository(action: str) -> str:
    # "github/codeql-action/upload-sarif" lives in github/codeql-action.
    return "/".join(action.split("/")[:2])


def tag_commit(client: Client, api: str, repository: str, tag: str, token: str | None) -> str:
    """The commit SHA a git tag names, peeling annotated tags."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    what = f"{repository}@{tag}"
    kind, sha = _object(
        client, f"{api}/repos/{repository}/git/ref/tags/{quote(tag, safe='')}", headers, what
    )
    for _ in range(_MAX_NESTING):
        if kind == "commit":
            return sha
        if kind != "tag":
            raise RemoteError(f"{what}: the tag names a {kind}, not a commit")
        kind, sha = _object(client, f"{api}/repos/{repository}/git/tags/{sha}", headers, what)
    raise RemoteError(f"{what}: more than {_MAX_NESTING} nested annotated tags")


def _object(client: Client, url: str, headers: dict[str, str], what: str) -> tuple[str, str]:
    body = json_body(what, get_ok(client, url, headers, what))
    target = body.get("object") if isinstance(body, dict) else None
    if (
        not isinstance(target, dict)
        or not _SHA.match(str(target.get("sha")))
        or not isinstance(target.get("type"), str)
    ):
        raise RemoteError(f"{what}: the GitHub API answer has no object with a sha and a type")
    return target["type"], target["sha"]
