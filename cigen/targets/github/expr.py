from __future__ import annotations

from cigen.model import Project

TAG_PATTERN = "v*"  # release tags that trigger the workflow and publish
# A release build: zizmor's cache-poisoning audit recognises exactly this form.
TAG_BUILD = "startsWith(github.ref, 'refs/tags/')"
PULL_REQUEST = "github.event_name == 'pull_request'"


def fenced(expr: str) -> str:
    return "${{ " + expr + " }}"


def publishing(project: Project) -> str:
    """True exactly for the runs that push the image: pushes of publish.branches and v* tags."""
    tags = f"startsWith(github.ref, 'refs/tags/{TAG_PATTERN.rstrip('*')}')"
    if project.publish.branches:
        refs = [f"github.ref == 'refs/heads/{branch}'" for branch in project.publish.branches]
    else:
        refs = ["startsWith(github.ref, 'refs/heads/')"]
    return f"github.event_name == 'push' && ({' || '.join([*refs, tags])})"
