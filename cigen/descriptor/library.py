"""The library form, `image: false`: CI runs the checks and builds no image.

Every key that only says something about the image, its registry or its publishing is an error
there, at the key: nothing would read it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cigen.core import KeyPath, Problem

# Key -> what it is for, said in the message.
IMAGE_ONLY: dict[KeyPath, str] = {
    ("registry",): "where images are pushed",
    ("image_name",): "the image's repository name",
    ("publish",): "when images are published",
    ("circleci", "machine_image"): "the machine of the image job",
    ("circleci", "arm_resource_class"): "the arm64 machine of the image jobs",
    ("circleci", "registry_auth"): "the image job's registry login",
    ("circleci", "context"): "the image job's context",
    ("github", "cache"): "the image build's cache",
    ("github", "auth"): "the image job's registry login",
    ("github", "environment"): "the environment images are published from",
    ("github", "arm_runs_on"): "the runner of the arm64 image job",
    ("cloudbuild", "kaniko_image"): "the Kaniko executor of the image step",
    ("cloudbuild", "kaniko_features"): "the Kaniko executor of the image step",
    ("cloudbuild", "cache"): "the image step's layer cache",
    ("cloudbuild", "cache_ttl"): "the image step's layer cache",
    ("cloudbuild", "cache_repo"): "the image step's layer cache",
    ("cloudbuild", "substitutions"): "the image step's references and base images",
    ("cloudbuild", "destination"): "where the image step pushes",
    ("cloudbuild", "tags"): "the pushed image's tags",
    ("cloudbuild", "builder"): "the tool of the image step",
    ("cloudbuild", "registry_auth"): "the image step's registry login",
    ("cloudbuild", "registry_username_secret"): "the image step's registry login",
    ("cloudbuild", "registry_password_secret"): "the image step's registry login",
    ("cloudbuild", "release_file"): "the config that publishes a release image",
}


def is_library(data: Mapping[str, Any]) -> bool:
    return data.get("image") is False


def problems(data: Mapping[str, Any]) -> Iterator[Problem]:
    """The image keys of a library descriptor, and overrides of its Dockerfile; values the
    schema refused are skipped (it said why)."""
    for path, what in IMAGE_ONLY.items():
        if _has(data, path):
            yield Problem(path, f"is {what}, and a library (image: false) has no image; remove "
                          "it", at_key=True)
    if _has(data, ("cloudbuild", "run_checks")) and data["cloudbuild"]["run_checks"] is False:
        yield Problem(("cloudbuild", "run_checks"), "is false, but a library's Cloud Build "
                      "config runs nothing else; remove it, or cloudbuild from targets")
    overrides = data.get("overrides")
    for key, value in overrides.items() if isinstance(overrides, Mapping) else ():
        if isinstance(value, Mapping):  # insertion points of the generated Dockerfile
            yield Problem(("overrides", key), "inserts into the Dockerfile, and a library "
                          "(image: false) has none; remove it", at_key=True)


def _has(data: Mapping[str, Any], path: KeyPath) -> bool:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True
