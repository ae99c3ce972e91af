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
        "Build the image with docker buildx, tagged with the commit SHA and the branch;" \
        "with CIRCLE_TAG set (a release), tagged with its version and built without cache." \
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
# A tag push on CircleCI: a release.
release=${CIRCLE_TAG:-}
# A stage other than the published one never takes the published image's tags.
suffix=
if [[ $target != "$default_target" ]]; then
    suffix=-$(tag_safe "$target")
fi

# IMAGE:<text as a tag><suffix>, at most 128 characters in the tag.
tagged() {
    local tag
    tag=$(tag_safe "$1")
    printf '%s' "$IMAGE:${tag:0:$((128 - ${#suffix}))}$suffix"
}

args=(--file "$dockerfile" --target "$target")
if [[ -n $release ]]; then
    # Tagged with its version (v1.4.2 -> 1.4.2) and built without any cache: no layer a branch
    # build cached reaches a release, and the commit's own tag keeps the branch build's image.
    args+=(--tag "$(tagged "${release#v}")" --no-cache)
else
    args+=(--tag "$(tagged "$GIT_REF")")
    # The cache is a registry image of every stage (mode=max), one per branch: the inline
    # cache would hold the last stage only, and a fresh machine would compile everything.
    branch_tag=$(tag_safe "$branch")
    cache_tag=$(tag_safe "$cache_branch")
    if [[ -n $branch_tag ]]; then
        args+=(--tag "$(tagged "$branch_tag")"
               --cache-from "type=registry,ref=$(tagged "buildcache-$branch_tag")")
        if $push; then
            args+=(--cache-to "type=registry,ref=$(tagged "buildcache-$branch_tag"),mode=max")
        fi
    fi
    if [[ -n $cache_tag && $cache_tag != "$branch_tag" ]]; then
        args+=(--cache-from "type=registry,ref=$(tagged "buildcache-$cache_tag")")
    fi
fi
"""
_PUSH = r"""if $push; then
    args+=(--push)
elif $load; then
    args+=(--load)
fi
docker buildx build "${args[@]}" .
"""
# Private dependencies: the Hex config and the SSH agent reach the build as a BuildKit secret
# and an agent socket, never as a file in the context or a build argument.
_PRIVATE = r"""
# Private dependencies: the Hex config comes in as a build secret, the SSH agent as a socket.
die() {
    printf 'build_images.sh: %s\n' "$1" >&2
    exit 2
}
if $hex_organizations; then
    hex_config=${HEX_CONFIG_FILE:-$HOME/.config/rebar3/hex.config}
    if [[ -n ${HEX_CONFIG:-} ]]; then
        args+=(--secret "id=hex_config,env=HEX_CONFIG")
    elif [[ -r $hex_config ]]; then
        args+=(--secret "id=hex_config,src=$hex_config")
    else
        die "Hex organisation packages need the Hex config with their keys: set HEX_CONFIG \
to its text, or HEX_CONFIG_FILE to its path (default: ~/.config/rebar3/hex.config)"
    fi
fi
if [[ -n $git_hosts ]]; then
    if [[ ! -S ${SSH_AUTH_SOCK:-} ]]; then
        die "private git dependencies on $git_hosts need an SSH agent with a key for \
them: run ssh-agent and ssh-add (SSH_AUTH_SOCK is not a socket)"
    fi
    args+=(--ssh default)
fi
"""


def render(project: Project) -> str:
    private = _PRIVATE if project.private else ""
    return "#!/usr/bin/env bash\n" + banner(project) + "set -euo pipefail\n\n" \
        + _values(project) + _BODY + private + _PUSH


def _values(project: Project) -> str:
    values = {
        "image_name": project.image_name,
        "dockerfile": project.image.dockerfile,
        "default_target": project.image.target,
        "default_registry": project.registry,
        "cache_branch": project.publish.cache_from or "",
    }
    if project.private:
        values["hex_organizations"] = "true" if project.private.hex_organizations else "false"
        values["git_hosts"] = " ".join(project.private.git_hosts)
    lines = [f"{name}={quote(value)}\n" for name, value in values.items()]
    return "# From the descriptor.\n" + "".join(lines)
