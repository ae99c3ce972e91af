from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path

# buildah 1.28 (Debian bookworm) differs from BuildKit in three ways that matter here; each is
# bridged on a copy of the generated Dockerfile, never on cigen's output itself:
# 1. It rejects a relative mount target ("invalid container path \".\", must be an absolute
#    path"); BuildKit resolves it against WORKDIR, so it is made absolute the same way. (cigen
#    writes absolute targets; the bridge keeps this for Dockerfiles written by hand.)
# 2. It never invalidates a RUN --mount=type=bind layer when the mounted files change
#    (containers/buildah#5400); BuildKit keys the layer on them. Each RUN that binds the
#    context gets a shell comment with the context's digest, which gives buildah that key.
# 3. It keeps the lock file of a sharing=locked cache inside the cache; `apt-get update`
#    deletes it from /var/lib/apt/lists, and the next RUN that locks that cache in the same
#    build waits forever (containers/buildah#4342, fixed in 1.29). The test runs one build at
#    a time and buildah runs stages one after another, so sharing=shared has the same effect.
# Secret and SSH mounts (`private` in the descriptor) need no bridge: buildah 1.28 takes id,
# target/dst/destination, required, mode, uid and gid on both, and a required=true mount without
# a source stops the RUN (run_common.go at v1.28.2: getSecretMount, getSSHMount); `buildah build
# --secret id=<id>,src=<file>` and `--ssh default=<agent socket or key files>` feed them
# (pkg/parse/parse.go: Secrets, SSH). tests/test_e2e_private.py builds with both.
_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$", re.S)
_MOUNT = re.compile(r"--mount=(\S+)")
_TARGET_KEYS = ("target", "dst", "destination")


def for_buildah(dockerfile: str, context_digest: str) -> str:
    """The Dockerfile with the three differences bridged; every other byte unchanged."""
    stages = _Workdirs()
    out = []
    for instruction in _instructions(dockerfile):
        match = _INSTRUCTION.match(instruction)
        keyword, rest = (match.group(1).upper(), match.group(2)) if match else ("", "")
        if keyword == "FROM":
            stages.enter(rest)
        elif keyword == "WORKDIR":
            stages.change(rest.strip())
        elif keyword == "RUN":
            instruction = _run(instruction, stages.current, context_digest)
        out.append(instruction)
    return "".join(out)


def _instructions(text: str) -> list[str]:
    """Each instruction with its continuation lines (and the comments between) as one chunk."""
    chunks: list[str] = []
    continued = False
    for line in text.splitlines(keepends=True):
        if continued or (chunks and not line.strip()):
            chunks[-1] += line
        else:
            chunks.append(line)
        stripped = line.rstrip("\n")
        continued = stripped.endswith("\\") or (continued and stripped.lstrip().startswith("#"))
    return chunks


class _Workdirs:
    """The WORKDIR in force, following stages that build on earlier ones (FROM <stage>)."""

    def __init__(self) -> None:
        self.by_stage: dict[str, str] = {}
        self.name = ""
        self.current = "/"

    def enter(self, rest: str) -> None:
        words = [w for w in rest.split() if not w.startswith("--")]
        parent = words[0].lower() if words else ""
        self.name = words[2].lower() if len(words) == 3 and words[1].lower() == "as" else ""
        self.current = self.by_stage.get(parent, "/")
        self.by_stage[self.name] = self.current

    def change(self, path: str) -> None:
        self.current = posixpath.join(self.current, path)
        self.by_stage[self.name] = self.current


def _run(instruction: str, workdir: str, context_digest: str) -> str:
    binds: list[bool] = []

    def rewrite(match: re.Match[str]) -> str:
        flag, binds_context = _mount(match.group(1), workdir)
        binds.append(binds_context)
        return flag

    instruction = _MOUNT.sub(rewrite, instruction)
    if not any(binds):
        return instruction
    body = instruction.rstrip("\n")
    return f"{body} # context {context_digest}" + instruction[len(body):]


def _mount(spec: str, workdir: str) -> tuple[str, bool]:
    """One --mount flag for buildah, and whether it binds the build context."""
    options = dict(_option(o) for o in spec.split(","))
    binds_context = options.get("type", "bind") == "bind" and "from" not in options
    if options.get("type") == "cache" and options.get("sharing") == "locked":
        options["sharing"] = "shared"
    for key in _TARGET_KEYS:
        target = options.get(key)
        if target is not None and not target.startswith("/"):
            options[key] = posixpath.normpath(posixpath.join(workdir, target))
    flag = ",".join(k if v is None else f"{k}={v}" for k, v in options.items())
    return f"--mount={flag}", binds_context


def _option(text: str) -> tuple[str, str | None]:
    key, sep, value = text.partition("=")
    return key, (value if sep else None)


def context_digest(context: Path) -> str:
    """sha256 over every file's path and bytes in the build context, .git aside."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if ".git" not in p.relative_to(context).parts):
        if path.is_file() and not path.is_symlink():
            digest.update(str(path.relative_to(context)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
