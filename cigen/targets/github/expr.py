from __future__ import annotations

from cigen.model import Project

# A tag build: zizmor's cache-poisoning audit recognises exactly this form
# (zizmorcore/zizmor, crates/zizmor/src/audit/cache_poisoning.rs, CacheControlExpr).
TAG_BUILD = "startsWith(github.ref, 'refs/tags/')"
BRANCH_BUILD = f"!{TAG_BUILD}"  # a branch push or a pull request
PULL_REQUEST = "github.event_name == 'pull_request'"


def fenced(expr: str) -> str:
    return "${{ " + expr + " }}"


def unless_tag(value: str) -> str:
    """`value` on branch pushes and pull requests, the empty string on tag builds."""
    return fenced(f"{BRANCH_BUILD} && {value} || ''")


def tag_ref(pattern: str) -> str:
    """Whether github.ref is a tag of the publish.tags `pattern`: a name, or a prefix and `*`.

    Only tags that on.push.tags matches start the workflow (GitHub's filter, in which `*` does
    not cross a `/`), so within a run a prefix test tells them apart well enough.
    """
    if pattern.endswith("*"):
        return f"startsWith(github.ref, 'refs/tags/{pattern[:-1]}')"
    return f"github.ref == 'refs/tags/{pattern}'"


def publishing(project: Project) -> str:
    """True exactly for the runs that push the image: pushes of publish.branches and of tags
    that publish.tags matches."""
    if project.publish.branches:
        refs = [f"github.ref == 'refs/heads/{branch}'" for branch in project.publish.branches]
    else:
        refs = ["startsWith(github.ref, 'refs/heads/')"]
    refs += [tag_ref(pattern) for pattern in project.publish.tags]
    return f"github.event_name == 'push' && ({' || '.join(refs)})"
