from __future__ import annotations

from shlex import quote

from cigen.model import Project
from cigen.targets.base import banner

PATH = "ci/build_images.sh"

# Everything below the descriptor's values is fixed text: no value is ever spliced into it.
_BODY = r"""
usage() {
    printf '%s\n' \
        "Usage: ci/build_images.sh [-p | -l] [-t TARGET] [-r REGISTRY] [-h]" \
        "Build the image with docker buildx, tagged with the commit SHA and the branch." \
        "" \
        "  -p           push the image to the registry" \
        "  -l           load the image into the local docker" \
        "  -t TARGET    Dockerfile stage to build (default: $default_target)" \
        "  -r REGISTRY  registry prefix; the image is REGISTRY/$image_name" \
        "               (default: $default_registry)" \
        "  -h           show this help"
}

fail() {
    printf 'build_images.sh: %s\n' "$1" >&2
    usage >&2
    exit 2
}

# A branch name as a Docker tag: only [A-Za-z0-9_.-], no leading . or -, at most 128 characters.
tag_safe() {
    local LC_ALL=C
    local tag=${1//[^A-Za-z0-9_.-]/-}
    while [[ $tag == [.-]* ]]; do
        tag=${tag:1}
    done
    printf '%s' "${tag:0:128}"
}

push=false
load=false
target=$default_target
registry=$default_registry
while getopts ':plt:r:h' opt; do
    case $opt in
        p) push=true ;;
        l) load=true ;;
        t) target=$OPTARG ;;
        r) registry=$OPTARG ;;
        h) usage; exit 0 ;;
        :) fail "option -$OPTARG needs an argument" ;;
        *) fail "unknown option -$OPTARG" ;;
    esac
done
shift $((OPTIND - 1))
if (($# > 0)); then
    fail "unexpected argument: $1"
fi
if $push && $load; then
    fail "-p (push to the registry) and -l (load into docker) cannot be combined"
fi

# Paths are relative to the project root: the parent of this script's folder.
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

IMAGE=$registry/$image_name
GIT_REF=$(git rev-parse HEAD)
# CI checkouts are often a detached HEAD, so ask the CI for the branch first.
branch=${CIRCLE_BRANCH:-${GITHUB_REF_NAME:-$(git symbolic-ref --short -q HEAD || true)}}
branch_tag=$(tag_safe "$branch")
cache_tag=$(tag_safe "$cache_branch")

args=(--file "$dockerfile" --target "$target" --tag "$IMAGE:$GIT_REF")
if [[ -n $branch_tag ]]; then
    args+=(--tag "$IMAGE:$branch_tag" --cache-from "type=registry,ref=$IMAGE:$branch_tag")
fi
if [[ -n $cache_tag && $cache_tag != "$branch_tag" ]]; then
    args+=(--cache-from "type=registry,ref=$IMAGE:$cache_tag")
fi
args+=(--cache-to=type=inline)
if $push; then
    args+=(--push)
elif $load; then
    args+=(--load)
fi
docker buildx build "${args[@]}" .
"""


def render(project: Project) -> str:
    return "#!/usr/bin/env bash\n" + banner(project) + "set -euo pipefail\n\n" \
        + _values(project) + _BODY


def _values(project: Project) -> str:
    values = {
        "image_name": project.image_name,
        "dockerfile": project.image.dockerfile,
        "default_target": project.image.target,
        "default_registry": project.registry,
        "cache_branch": project.publish.cache_from or "",
    }
    lines = [f"{name}={quote(value)}\n" for name, value in values.items()]
    return "# From the descriptor.\n" + "".join(lines)
