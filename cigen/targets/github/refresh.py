"""The refresh workflow (github.refresh; docs/refresh.md): on a schedule, and on demand, it
refreshes the image digests the descriptor pins and the repository's action pins, renders again,
and opens or updates one pull request when anything moved. A pure renderer of the model: every
value from the descriptor reaches a script through `env:`, never spliced into it."""

from __future__ import annotations

from typing import Any

from cigen import __version__
from cigen.core import Problem
from cigen.errors import RenderError
from cigen.model import Project, Refresh
from cigen.targets.base import banner
from cigen.targets.github.expr import fenced
from cigen.targets.github.jobs import checkout_step
from cigen.targets.github.pins import Note, annotate, comments, uses_notes
from cigen.yamlio import dump

WORKFLOW_DIR = ".github/workflows/"
TIMEOUT = 20  # minutes: a few registry and API calls, one render, one push
TOKEN = fenced("github.token")

# Said on the permission's line, where a reviewer (and zizmor's undocumented-permissions) looks.
PERMISSION_REASONS = {
    "contents": "push the refresh branch",
    "pull-requests": "open or update the refresh pull request",
}

# The committer GitHub shows as the Actions bot: actions/checkout README.md, "Push a commit using
# the built-in token" ({user.id}+{user.login}@users.noreply.github.com).
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"

TITLE = "cigen: refresh image digests and action pins"

# pipx is on GitHub's Ubuntu images (actions/runner-images images/ubuntu/Ubuntu2404-Readme.md:
# "Pipx 1.7.1"); it installs cigen into a virtual environment of its own and puts it on PATH.
INSTALL = 'pipx install "$CIGEN_PACKAGE"\n'

# `cigen pin --check` exits 0 when no pinned tag moved (also when nothing is pinned: a
# descriptor that pins no image stays as it is), 1 when one moved, 2 when a registry cannot
# be read; only then does `cigen pin` run and write the descriptor (docs/pin-and-init.md).
PIN_IMAGES = """\
status=0
cigen pin -c "$CIGEN_CONFIG" --check || status=$?
if [ "$status" -eq 1 ]; then
  cigen pin -c "$CIGEN_CONFIG"
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
"""

PIN_ACTIONS = 'cigen pin -c "$CIGEN_CONFIG" --actions\n'
RENDER = 'cigen render -c "$CIGEN_CONFIG"\n'

# `gh auth setup-git` makes gh git's credential helper for github.com in the runner's global git
# config (cli/cli#4246: credential.https://github.com.helper '!gh auth git-credential'); the
# helper reads GH_TOKEN from this step's environment (cli/cli#3009), so no token is written into
# .git/config or any file, and checkout persisted none (persist-credentials: false).
# gh is on GitHub's Ubuntu images (facts: actions/runner-images Ubuntu2404-Readme.md, GitHub CLI).
PULL_REQUEST = f"""\
if [ -z "$(git status --porcelain)" ]; then
  echo "Nothing moved; no pull request."
  exit 0
fi
if [ "$BASE" = "$BRANCH" ]; then
  echo "::error::run this workflow from another branch than $BRANCH, which it replaces"
  exit 1
fi
git status --short
workflows=$(git status --porcelain -- .github/workflows)
if [ "$WORKFLOWS_NEED_TOKEN" = true ] && [ -n "$workflows" ]; then
  why="the change touches .github/workflows/, which GITHUB_TOKEN may not push"
  echo "::error::$why: set github.refresh.token_secret in $CIGEN_CONFIG (docs/refresh.md)"
  exit 1
fi
git config user.name "{BOT_NAME}"
git config user.email "{BOT_EMAIL}"
git switch -C "$BRANCH"
git add -A
git commit -m "$TITLE"
gh auth setup-git
git push --force origin "HEAD:refs/heads/$BRANCH"
open=$(gh pr list --head "$BRANCH" --base "$BASE" --state open --json number --jq length)
if [ "$open" = "0" ]; then
  gh pr create --head "$BRANCH" --base "$BASE" --title "$TITLE" --body "$BODY"
else
  gh pr edit "$BRANCH" --title "$TITLE" --body "$BODY"
fi
"""


def render(project: Project) -> str:
    data = workflow(project)
    steps = data["jobs"]["refresh"]["steps"]
    notes = [*uses_notes([s["uses"] for s in steps if "uses" in s], project.github),
             *_permission_notes()]
    return banner(project) + annotate(dump(data), comments(notes))


def workflow(project: Project) -> dict[str, Any]:
    """The refresh workflow as plain data; `project.github.refresh` is set."""
    refresh = _refresh(project)

    def config() -> dict[str, str]:  # a new mapping for each step: dump writes no aliases
        return {"CIGEN_CONFIG": project.source}

    return {
        "name": "cigen refresh",
        "on": {"schedule": [{"cron": refresh.schedule}], "workflow_dispatch": None},
        "permissions": {},  # the job grants itself only what it needs
        # One refresh at a time; a second waits rather than racing the first's push.
        "concurrency": {"group": fenced("github.workflow"), "cancel-in-progress": False},
        "jobs": {"refresh": {
            "name": "Refresh pins and open a pull request",
            "runs-on": project.github.runs_on,
            "timeout-minutes": TIMEOUT,
            "permissions": dict.fromkeys(PERMISSION_REASONS, "write"),
            "steps": [
                checkout_step(project.github),
                {"name": "Install cigen", "run": INSTALL,
                 "env": {"CIGEN_PACKAGE": refresh.package or f"cigen=={__version__}"}},
                {"name": "Pin image digests", "run": PIN_IMAGES, "env": config()},
                {"name": "Refresh action pins", "run": PIN_ACTIONS,
                 "env": {**config(), "GITHUB_TOKEN": TOKEN}},
                {"name": "Render", "run": RENDER, "env": config()},
                {"name": "Open or update the pull request", "run": PULL_REQUEST, "env": {
                    "BRANCH": refresh.branch,
                    "BASE": fenced("github.ref_name"),
                    "TITLE": TITLE,
                    "BODY": _body(project),
                    "GH_TOKEN": _push_token(project),
                    # GitHub refuses GITHUB_TOKEN's push of a workflow change: say why first.
                    "WORKFLOWS_NEED_TOKEN": "false" if refresh.token_secret else "true",
                    "CIGEN_CONFIG": project.source,
                }},
            ],
        }},
    }


def _push_token(project: Project) -> str:
    """GITHUB_TOKEN, unless github.refresh.token_secret names a secret: GITHUB_TOKEN may not
    push a change to .github/workflows/ (GitHub refuses it without the workflows permission,
    which GITHUB_TOKEN cannot be granted: peter-evans/create-pull-request#1713, #3558;
    github/docs#11490), and a pull request it opens starts no workflow."""
    refresh = _refresh(project)
    return fenced(f"secrets.{refresh.token_secret}") if refresh.token_secret else TOKEN


def _body(project: Project) -> str:
    refresh = _refresh(project)
    return (f"{refresh.workflow_file} ran cigen {__version__}: `cigen pin` (image digests of "
            f"{project.source}), `cigen pin --actions` ({project.github.action_pins}) and "
            "`cigen render`. Each run that finds a change replaces this branch."
            + ("" if refresh.token_secret else " A pull request opened with GITHUB_TOKEN "
               "starts no workflow: close and reopen it to run the checks."))


def _refresh(project: Project) -> Refresh:
    if project.github.refresh is None:
        raise RenderError("the refresh workflow needs github.refresh (cigen bug)")
    return project.github.refresh


def _permission_notes() -> list[Note]:
    return [((scope, "write"), why) for scope, why in PERMISSION_REASONS.items()]


def problems(project: Project) -> list[Problem]:
    refresh = project.github.refresh
    if refresh is None:
        return []
    path, found = refresh.workflow_file, []
    if not path.startswith(WORKFLOW_DIR) or "/" in path[len(WORKFLOW_DIR):] \
            or not path.endswith((".yml", ".yaml")):
        found.append(Problem(("github", "refresh", "workflow_file"),
                             f"GitHub runs only {WORKFLOW_DIR}<name>.yml or .yaml files"))
    elif _same(path, project.github.workflow_file):
        found.append(Problem(("github", "refresh", "workflow_file"),
                             f"is github.workflow_file ({project.github.workflow_file}) "
                             "already; the refresh workflow needs a file of its own"))
    return found


def _same(a: str, b: str) -> bool:
    from cigen.core import normalise

    return normalise(a) == normalise(b)
