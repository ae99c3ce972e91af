from __future__ import annotations

from shlex import quote

from cigen.model import Project
from cigen.targets.base import banner

PATH = "ci/build_images.sh"
# Where a platform's push by digest leaves the digest, one file per platform (linux-arm64), for
# the merge (-m). Under ci/, which the generated .dockerignore keeps out of the build context
# (cigen/targets/dockerfile/ignore.py); written after the build, read by the merge only.
DIGESTS = "ci/digests"


def digest_file(platform: str) -> str:
    """The digest file of `platform` (linux/arm64 -> ci/digests/linux-arm64)."""
    return f"{DIGESTS}/{platform.replace('/', '-')}"


# Everything below the descriptor's values is fixed text: no value is ever spliced into it.
_USAGE = r"""
usage() {
    printf '%s\n' \
        "Usage: ci/build_images.sh [-p | -l] [-t TARGET] [-r REGISTRY] [-h]" \
"""
_USAGE_MULTI = r"""
        "       ci/build_images.sh -P PLATFORM [-p | -l] [-t TARGET] [-r REGISTRY]" \
        "       ci/build_images.sh -m [-t TARGET] [-r REGISTRY]" \
"""[1:]
_USAGE_TEXT = r"""
        "Build the image with docker buildx, tagged with the commit SHA and the branch;" \
        "with CIRCLE_TAG set (a release), tagged with its version and built without cache." \
        "" \
        "  -p           push the image to the registry" \
        "  -l           load the image into the local docker" \
"""[1:]
_USAGE_MULTI_TEXT = r"""
        "  -P PLATFORM  build one platform of ${platforms[*]}; with -p, push it by digest" \
        "               (no tag) and write the digest to ci/digests/<os>-<arch>" \
        "  -m           merge: push one manifest list of the images in ci/digests, one for" \
        "               each platform, under the tags a build would push" \
"""[1:]
_USAGE_SIGN = r"""
        "  -s           sign what -p or -m pushed with cosign, keyless: SIGSTORE_ID_TOKEN" \
        "               holds the OIDC token (audience sigstore)" \
"""[1:]
_USAGE_END = r"""        "  -t TARGET    Dockerfile stage to build (default: $default_target)" \
        "  -r REGISTRY  registry prefix; the image is REGISTRY/$image_name" \
        "               (default: $default_registry)" \
        "  -h           show this help"
}

fail() {
    printf 'build_images.sh: %s\n' "$1" >&2
    usage >&2
    exit 2
}

die() {
    printf 'build_images.sh: %s\n' "$1" >&2
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
"""
_DEFAULTS_MULTI = "platform=\nmerge=false\n"
_DEFAULTS_SIGN = "sign=false\n"
_GETOPTS = r"""target=$default_target
registry=$default_registry
while getopts '{spec}' opt; do
    case $opt in
        p) push=true ;;
        l) load=true ;;
"""
_CASES_MULTI = r"""        P) platform=$OPTARG ;;
        m) merge=true ;;
"""
_CASES_SIGN = "        s) sign=true ;;\n"
_CASES_END = r"""        t) target=$OPTARG ;;
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
"""
_CHECKS_MULTI = r"""if $merge && { $push || $load || [[ -n $platform ]]; }; then
    fail "-m (merge the pushed platforms) takes no -p, -l or -P"
fi
if [[ -n $platform && " ${platforms[*]} " != *" $platform "* ]]; then
    fail "-P $platform: not one of the image's platforms (${platforms[*]})"
fi
# Each platform has a registry cache of its own: buildcache-<arch>-<branch> (the arch first, so
# that cutting a long branch to a tag's 128 characters never merges two platforms' caches).
cache_name=buildcache
if [[ -n $platform ]]; then
    cache_name=buildcache-${platform##*/}
fi
"""
_CHECKS_SIGN = r"""if $sign; then
    if ! $push && ! {merge}; then
        fail "-s (sign) needs -p or -m: only a pushed image is signed"
    fi
    # Checked before the build. cosign reads the OIDC token from SIGSTORE_ID_TOKEN
    # (sigstore/cosign pkg/cosign/env/env.go, pkg/providers/envvar); it has no CircleCI
    # provider of its own (pkg/providers/all/all.go).
    if ! command -v cosign >/dev/null; then
        die "-s (sign) needs cosign on PATH"
    fi
    if [[ -z ${{SIGSTORE_ID_TOKEN:-}} ]]; then
        die "-s (sign) needs the OIDC token for Sigstore in SIGSTORE_ID_TOKEN"
    fi
fi
"""
_SETUP = r"""
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

tags=()
cache=()
if [[ -n $release ]]; then
    # Tagged with its version (v1.4.2 -> 1.4.2) and built without any cache: no layer a branch
    # build cached reaches a release, and the commit's own tag keeps the branch build's image.
    tags+=("$(tagged "${release#v}")")
    cache+=(--no-cache)
else
    tags+=("$(tagged "$GIT_REF")")
    # The cache is a registry image of every stage (mode=max), one per branch: the inline
    # cache would hold the last stage only, and a fresh machine would compile everything.
    branch_tag=$(tag_safe "$branch")
    cache_tag=$(tag_safe "$cache_branch")
    if [[ -n $branch_tag ]]; then
        tags+=("$(tagged "$branch_tag")")
        cache+=(--cache-from "type=registry,ref=$(tagged "$cache_name-$branch_tag")")
        if $push; then
            cache+=(--cache-to "type=registry,ref=$(tagged "$cache_name-$branch_tag"),mode=max")
        fi
    fi
    if [[ -n $cache_tag && $cache_tag != "$branch_tag" ]]; then
        cache+=(--cache-from "type=registry,ref=$(tagged "$cache_name-$cache_tag")")
    fi
fi
"""
# The digest of a push, from the JSON buildx writes: `containerimage.digest` of
# `buildx build --metadata-file` (docker/buildx docs/reference/buildx_build.md at v0.36.1), or the
# index's `digest` in `imagetools inspect --format '{{json .Manifest}}'`
# (docs/reference/buildx_imagetools_inspect.md). imagetools create has a --metadata-file only
# from buildx v0.32.0 (commit a2f3c6a1b), newer than the v0.28.0 of CircleCI's ubuntu-2404
# machine image, so the list's digest is read back from the registry.
_DIGEST_OF = r"""
# The first "<key>": "sha256:<hex>" in a JSON text.
digest_in() {
    local pattern="\"$2\": *\"(sha256:[0-9a-f]{64})\""
    if [[ ! $1 =~ $pattern ]]; then
        die "no $2 in buildx's output: $1"
    fi
    printf '%s' "${BASH_REMATCH[1]}"
}
"""
_SIGN = r"""
# A keyless signature of IMAGE@<digest>: a Sigstore certificate for the CI's OIDC identity.
sign() {
    cosign sign --yes "$IMAGE@$1"
}
"""
_MERGE = r"""
if $merge; then
    # One manifest list of every platform's image, pushed by digest to this registry, under the
    # tags; the platforms' SBOM and provenance come along (docker/buildx
    # docs/reference/buildx_imagetools_create.md, util/imagetools/create.go at v0.36.1).
    sources=()
    for each in "${platforms[@]}"; do
        file=ci/digests/${each//\//-}
        if [[ ! -r $file ]]; then
            die "no digest of $each in $file: build it first with -P $each -p"
        fi
        digest=$(<"$file")
        if [[ ! $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
            die "$file holds no image digest (sha256:<64 hex digits>)"
        fi
        sources+=("$IMAGE@$digest")
    done
    create=()
    for tag in "${tags[@]}"; do
        create+=(--tag "$tag")
    done
    docker buildx imagetools create "${create[@]}" "${sources[@]}"
"""
_MERGE_SIGN = r"""    if $sign; then
        sign "$(digest_in "$(docker buildx imagetools inspect "${tags[0]}" \
            --format '{{json .Manifest}}')" digest)"
    fi
"""
_MERGE_END = "    exit 0\nfi\n"
_ARGS = r"""
args=(--file "$dockerfile" --target "$target")
"""
_ARGS_MULTI = r"""by_digest=false
if [[ -n $platform ]]; then
    args+=(--platform "$platform")
    if $push; then
        by_digest=true
    fi
fi
if ! $by_digest; then
    for tag in "${tags[@]}"; do
        args+=(--tag "$tag")
    done
fi
args+=("${cache[@]}")
"""
_ARGS_SINGLE = r"""for tag in "${tags[@]}"; do
    args+=(--tag "$tag")
done
args+=("${cache[@]}")
"""
# Private dependencies: the Hex config and the SSH agent reach the build as a BuildKit secret
# and an agent socket, never as a file in the context or a build argument.
_PRIVATE = r"""
# Private dependencies: the Hex config comes in as a build secret, the SSH agent as a socket.
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
# SBOM and provenance on a push only: the docker exporter behind --load keeps no attestations
# (docs.docker.com/build/ci/github-actions/attestations/: "If you're using the docker exporter,
# or you're loading the build results ... no attestations are added ... These output formats
# don't support attestations"; buildx refuses them on the docker driver). --sbom and
# --provenance=mode=max are the shorthands of --attest=type=sbom / type=provenance,mode=max
# (docker/buildx docs/reference/buildx_build.md at v0.36.1).
_PUSH = r"""
if $push; then
    if $attest; then
        args+=(--sbom=true --provenance=mode=max)
    fi
"""
# A platform pushed by digest, without a tag, as docker's multi-platform recipe does
# (docker/docs content/manuals/build/ci/github-actions/multi-platform.md, "Distribute build
# across multiple runners"); --metadata-file's containerimage.digest is the pushed digest.
_PUSH_MULTI = r"""    if $by_digest; then
        args+=(--output "type=image,name=$IMAGE,push-by-digest=true,name-canonical=true,push=true")
    else
        args+=(--push)
    fi
"""
_PUSH_PLAIN = "    args+=(--push)\n"
_METADATA = r"""    if {needed}; then
        metadata=$(mktemp)
        trap 'rm -f -- "$metadata"' EXIT
        args+=(--metadata-file "$metadata")
    fi
"""
_PUSH_END = r"""elif $load; then
    args+=(--load)
fi
docker buildx build "${args[@]}" .
"""
_AFTER = r"""if [[ -n ${metadata:-} ]]; then
    digest=$(digest_in "$(<"$metadata")" containerimage.digest)
"""
_AFTER_MULTI = r"""    if $by_digest; then
        mkdir -p ci/digests
        printf '%s\n' "$digest" > "ci/digests/${platform//\//-}"
    fi
"""
_AFTER_SIGN = r"""    if $sign; then
        sign "$digest"
    fi
"""


def render(project: Project) -> str:
    multi, signs = project.image.multi_platform, project.publish.sign
    spec = ":plt:r:h" if not (multi or signs) else \
        ":pl" + ("P:m" if multi else "") + ("s" if signs else "") + "t:r:h"
    parts = [
        _USAGE, _USAGE_MULTI if multi else "", _USAGE_TEXT, _USAGE_MULTI_TEXT if multi else "",
        _USAGE_SIGN if signs else "", _USAGE_END,
        _DEFAULTS_MULTI if multi else "", _DEFAULTS_SIGN if signs else "",
        _GETOPTS.replace("{spec}", spec),
        _CASES_MULTI if multi else "", _CASES_SIGN if signs else "", _CASES_END,
        _CHECKS_MULTI if multi else "cache_name=buildcache\n",
        _CHECKS_SIGN.replace("{merge}", "$merge" if multi else "false")
        .replace("{{", "{").replace("}}", "}") if signs else "",
        _SETUP,
        _DIGEST_OF if signs or multi else "",
        _SIGN if signs else "",
    ]
    if multi:
        parts += [_MERGE, _MERGE_SIGN if signs else "", _MERGE_END]
    parts += [_ARGS, _ARGS_MULTI if multi else _ARGS_SINGLE]
    parts.append(_PRIVATE if project.private else "")
    parts += [_PUSH, _PUSH_MULTI if multi else _PUSH_PLAIN]
    needed = " || ".join((["$by_digest"] if multi else []) + (["$sign"] if signs else []))
    if needed:
        parts.append(_METADATA.replace("{needed}", needed))
    parts.append(_PUSH_END)
    if needed:
        parts += [_AFTER, _AFTER_MULTI if multi else "", _AFTER_SIGN if signs else "", "fi\n"]
    return "#!/usr/bin/env bash\n" + banner(project) + "set -euo pipefail\n\n" \
        + _values(project) + "".join(parts)


def _values(project: Project) -> str:
    values = {
        "image_name": project.image_name,
        "dockerfile": project.image.dockerfile,
        "default_target": project.image.target,
        "default_registry": project.registry,
        "cache_branch": project.publish.cache_from or "",
        "attest": "true" if project.publish.attest else "false",
    }
    if project.private:
        values["hex_organizations"] = "true" if project.private.hex_organizations else "false"
        values["git_hosts"] = " ".join(project.private.git_hosts)
    lines = [f"{name}={quote(value)}\n" for name, value in values.items()]
    if project.image.multi_platform:
        lines.append(f"platforms=({' '.join(quote(p) for p in project.image.platforms)})\n")
    return "# From the descriptor.\n" + "".join(lines)
