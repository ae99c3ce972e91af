"""`publish.sign`: a cosign keyless signature of the digest a job pushes last.

cosign's GitHub provider takes the job's OIDC token from ACTIONS_ID_TOKEN_REQUEST_TOKEN and
ACTIONS_ID_TOKEN_REQUEST_URL, with audience `sigstore` (sigstore/cosign v3.1.2
pkg/providers/github/github.go), and GitHub sets those only in a job granted `id-token: write`:
so only the signing job gets it. Fulcio's certificate names the workflow,
`https://github.com/OWNER/REPO/.github/workflows/FILE@REF`, issuer
`https://token.actions.githubusercontent.com` (sigstore/fulcio config/identity/config.yaml);
docs/signing.md has the matching `cosign verify`.

The signature is pushed with the registry credentials the job's login step wrote, so it is made
in the job that logged in and pushed, after the push.
"""

from __future__ import annotations

from typing import Any

from cigen.model import Project
from cigen.targets.github.jobs import Step
from cigen.targets.github.pins import uses

SIGN_REASON = "keyless cosign signing (publish.sign)"


def sign_steps(project: Project, digest: str, when: dict[str, Any]) -> list[Step]:
    """Install cosign, then sign `<image repo>@<digest>`; `digest` is an expression, passed in
    the step's env (never spliced into the script), `when` the steps' `if` (none in a job that
    runs only to push)."""
    return [
        # sigstore/cosign-installer v4.1.2 action.yml: installs cosign v3.0.6 by default after
        # checking its sha256 against the values written in the action.
        {"name": "Install cosign", **when,
         "uses": uses("sigstore/cosign-installer", project.github)},
        {
            "name": "Sign the image",
            **when,
            "env": {"IMAGE": project.image_repo, "DIGEST": digest},
            # --yes: no confirmation prompt (cosign v3.1.2 cmd/cosign/cli/options/sign.go).
            "run": 'cosign sign --yes "$IMAGE@$DIGEST"\n',
        },
    ]
