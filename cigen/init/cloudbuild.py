"""What cloudbuild.yaml says: where the build pushes (Kaniko's --destination, docker push and
build -t in a docker step, `images`), the OTP of an erlang builder or base-image substitution,
the checks a step runs.

Fields read (cloud.google.com/build/docs/build-config-file-schema): steps[*].{name, args,
entrypoint, script}, images, substitutions. `$_X` and `${_X}` are user substitutions, put in
from `substitutions`; built-in ones such as $PROJECT_ID stay as written. Kaniko's executor
takes the image to push as --destination (GoogleContainerTools/kaniko README, also -d).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from cigen.init import images, shell
from cigen.init.facts import Said, Seen
from cigen.init.yamlfiles import items, load, mapping, seen, text

FILE = "cloudbuild.yaml"
_SUBSTITUTION = re.compile(r"\$(?:\{(_[A-Z0-9_]+)\}|(_[A-Z0-9_]+))")


def read(root: Path, warnings: list[str]) -> Said:
    said = Said()
    data = load(root, FILE, warnings)
    if not isinstance(data, dict):
        return said
    node = mapping(data.get("substitutions"))
    substitutions = {str(k): v for k, value in node.items() if (v := text(value)) is not None}
    for key, value in substitutions.items():
        if images.is_erlang(value) and images.otp(_put(value, substitutions)):
            ref = _put(value, substitutions)
            said.otp.append(seen(FILE, node, key, images.otp(ref), f"{key}: {value}"))
            if images.os_family(ref):
                said.os.append(seen(FILE, node, key, images.os_family(ref), f"{key}: {value}"))
    steps = items(data.get("steps"))
    for i, step in enumerate(steps):
        if isinstance(step, dict):
            _step(seen(FILE, steps, i, None).where, step, said, substitutions)
    for i, ref in enumerate(items(data.get("images"))):
        if isinstance(ref, str):
            said.pushes.append(seen(FILE, data["images"], i, _put(ref, substitutions),
                                    f"images: {ref}"))
    return said


def _put(value: str, substitutions: dict[str, str]) -> str:
    return _SUBSTITUTION.sub(lambda m: substitutions.get(m.group(1) or m.group(2), m.group()),
                             value)


def _step(at: str, step: dict[Any, Any], said: Said, substitutions: dict[str, str]) -> None:
    builder = str(step.get("name") or "")
    args = [_put(a, substitutions) for a in (text(v) for v in items(step.get("args"))) if a]
    if images.otp(builder):
        said.otp.append(Seen(images.otp(builder), at, f"step name {builder}"))
    if "kaniko" in builder:
        said.pushes += [Seen(ref, at, f"--destination={ref}") for ref in _destinations(args)]
        return
    entrypoint = str(step.get("entrypoint") or "")
    words = [entrypoint or builder.rsplit("/", 1)[-1].split(":", 1)[0], *args]
    script = " ".join(args[1:]) if entrypoint in ("bash", "sh") and args[:1] == ["-c"] else \
        shlex.join(words)
    if isinstance(step.get("script"), str):
        script += "\n" + _put(step["script"], substitutions)
    shell.scan(script, at, said)


def _destinations(args: list[str]) -> list[str]:
    found = []
    for i, arg in enumerate(args):
        if arg.startswith("--destination="):
            found.append(arg.split("=", 1)[1])
        elif arg in ("--destination", "-d") and i + 1 < len(args):
            found.append(args[i + 1])
    return found
