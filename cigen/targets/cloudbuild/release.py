from __future__ import annotations

import re
from typing import Any

from cigen.model import Project
from cigen.targets.cloudbuild import auth

# Release builds: a trigger on pushed tags matching publish.tags runs the release config.
# $TAG_NAME is set in tag-triggered builds only
# (https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values). The
# version (the tag with one leading v dropped) is computed by bash in a step, not by a
# substitution; the tag reaches bash through `env`, never inside the script, so a tag name
# cannot inject shell code. `$$` is how a step writes a literal `$` past Cloud Build.
Step = dict[str, Any]

CHECK_STEP = "release-check"
TAG_STEP = "release-tag"
_TAG_ENV = "TAG_NAME=$TAG_NAME"
_VERSION = 'version="$${TAG_NAME#v}"'


def trigger_regex(project: Project) -> str:
    """The tag filter of the release trigger (RE2): publish.tags as one regular expression."""
    alternatives = [re.escape(p[:-1]) + ".*" if p.endswith("*") else re.escape(p)
                    for p in project.publish.tags]
    return "^(" + "|".join(alternatives) + ")$"


def check_step(project: Project) -> Step:
    """Fails a release build that no publish.tags tag started, before anything is built."""
    patterns = "|".join(project.publish.tags)  # [A-Za-z0-9._-] and a final *: case patterns
    script = (f'case "$$TAG_NAME" in\n  {patterns}) echo "release $$TAG_NAME" ;;\n'
              f'  *) echo "TAG_NAME=$$TAG_NAME matches no publish.tags pattern ({patterns}): '
              'run this config from the tag trigger" >&2; exit 1 ;;\nesac')
    return {"name": project.cloudbuild.docker_image, "entrypoint": "bash",
            "args": ["-c", script], "env": [_TAG_ENV]}


def retag_step(project: Project, image: str, repository: str) -> Step:
    """Kaniko cannot compute a tag: push <repository>:<version> as a copy of `image`."""
    script = "\n".join([
        "set -eu", _VERSION, 'docker pull "$$IMAGE"',
        'docker tag "$$IMAGE" "$$REPOSITORY:$$version"', 'docker push "$$REPOSITORY:$$version"'])
    step: Step = {"name": project.cloudbuild.docker_image, "entrypoint": "bash",
                  "args": ["-c", script],
                  "env": [_TAG_ENV, f"IMAGE={image}", f"REPOSITORY={repository}"]}
    return auth.with_config(project, step)


def buildx_version(repository: str) -> tuple[list[str], list[str], list[str]]:
    """(script lines, raw flags, env) that add --tag=<repository>:<version> to a buildx build."""
    return [_VERSION], ['--tag="$$REPOSITORY:$$version"'], [_TAG_ENV, f"REPOSITORY={repository}"]
