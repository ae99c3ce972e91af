from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cigen import yamlio
from cigen.core import Output, Plan, Problem, marked
from cigen.model import Project
from cigen.targets.base import banner, planned
from cigen.targets.cloudbuild import auth, private, release
from cigen.targets.cloudbuild import steps as build
from cigen.targets.cloudbuild import substitutions as subst
from cigen.targets.cloudbuild.config_lint import lint, lint_text
from cigen.targets.cloudbuild.problems import descriptor_problems

if TYPE_CHECKING:
    from cigen.kaniko import Conversion

__all__ = ["GCLOUDIGNORE", "config", "lint", "lint_text", "plan"]

GCLOUDIGNORE = ".gcloudignore"
# gcloud uploads everything not listed: build output and local state stay home.
_LOCAL = ("_build", "_checkouts", ".rebar3", "erl_crash.dump", "rebar3.crashdump")
_CI = (".circleci", ".github")  # the workflows of other CI services; ci/ holds the Kaniko file
_INCLUDE_GITIGNORE = "#!include:.gitignore"


def plan(project: Project) -> Plan:
    from cigen.errors import ConversionError

    if project.private and project.cloudbuild.builder == "kaniko" and not project.library:
        return Plan(problems=(Problem(("private",), private.KANIKO),))
    try:
        variant = kaniko_variant(project)
    except ConversionError as e:
        if not project.image.generate:
            return Plan(problems=tuple(Problem(("image", "dockerfile"), p) for p in e.problems))
        from cigen.targets.dockerfile import conversion_problems  # the descriptor's lines at
        return Plan(problems=conversion_problems(project, e.problems))  # their insertion point
    base_args = variant.base_args if variant else ()
    steps = build.steps(project, base_args)
    return planned(descriptor_problems(project, base_args, steps), lambda: (
        Output(project.cloudbuild.file, banner(project) + yamlio.dump(
            config(project, base_args, steps)), "cloudbuild", schema="cloudbuild",
            origin=("cloudbuild", "file")),
        *_release_outputs(project, base_args),
        Output(GCLOUDIGNORE, gcloudignore(project), "cloudbuild", origin=("targets",)),
        *(() if variant is None else (Output(
            project.image.kaniko_dockerfile, _with_marker(project, variant.text), "cloudbuild",
            origin=("image", "kaniko_dockerfile")),)),
    ))


def _release_outputs(project: Project, base_args: build.BaseArgs) -> tuple[Output, ...]:
    """The release config, run by a trigger on tags matching publish.tags; none without tags."""
    if not project.publish.tags:
        return ()
    steps = build.release_steps(project, base_args)
    trigger = (f"# Run it from a Cloud Build trigger on pushed tags matching "
               f"{release.trigger_regex(project)} (publish.tags).\n")
    text = banner(project) + trigger + yamlio.dump(config(project, base_args, steps))
    return (Output(project.cloudbuild.release_file, text, "cloudbuild", schema="cloudbuild",
                   origin=("cloudbuild", "release_file")),)


def kaniko_variant(project: Project) -> Conversion | None:
    """The Kaniko Dockerfile converted from the BuildKit one, for the executor that runs it
    (cloudbuild.kaniko_image, or kaniko_features); None with builder buildx, or no image."""
    from cigen.kaniko import convert
    from cigen.kaniko.executor import choose

    if project.cloudbuild.builder != "kaniko" or project.library:
        return None
    image = project.image
    if image.generate:
        from cigen.targets.dockerfile import dockerfile_text

        source = dockerfile_text(project)
    else:
        source = project.user_dockerfile or ""
    cb = project.cloudbuild
    # target "": a user's last stage without a name, the one Kaniko builds by default
    return convert(source, image.dockerfile, published_stage=image.target or None,
                   executor=choose(cb.kaniko_image, cb.kaniko_features))


def _with_marker(project: Project, text: str) -> str:
    # The conversion moves a leading comment below the ARGs it adds; the marker must lead.
    return marked(text, banner(project))


def config(project: Project, base_args: build.BaseArgs, steps: list[build.Step]) -> dict[str, Any]:
    """The Cloud Build config as plain data, keys in the order the chapter writes them."""
    cb = project.cloudbuild
    data: dict[str, Any] = {"steps": steps}
    used = subst.all_keys(subst.strings(steps))  # a release config has no cache_repo, say
    values = {k: v for k, v in build.substitutions(project, base_args).items() if k in used}
    if values:
        data["substitutions"] = values
    secrets = {**cb.secrets, **auth.secrets(project), **private.secrets(project)}
    if secrets:
        versions = [{"versionName": name, "env": env} for env, name in secrets.items()]
        data["availableSecrets"] = {"secretManager": versions}
    options = _options(project, values)
    if options:
        data["options"] = options
    if cb.timeout:
        data["timeout"] = f"{subst.seconds(cb.timeout)}s"
    if cb.service_account:
        data["serviceAccount"] = cb.service_account
    return data


def _options(project: Project, values: dict[str, str]) -> dict[str, Any]:
    cb = project.cloudbuild
    options: dict[str, Any] = {}
    # Values that name another substitution expand only with dynamic substitutions on
    # (triggers do it anyway; `gcloud builds submit` does not).
    if any(subst.value_keys(value) for value in values.values()):
        options["dynamicSubstitutions"] = True
    if cb.machine_type:
        options["machineType"] = cb.machine_type
    if cb.logging:
        options["logging"] = cb.logging
    return options


def gcloudignore(project: Project) -> str:
    """What `gcloud builds submit` leaves out of its upload; triggered builds ignore the file."""
    sections = [
        # gcloud's own default ends with this include when a .gitignore exists, and a missing
        # included file fails the upload (google-cloud-sdk-unofficial/google-cloud-sdk
        # lib/googlecloudsdk/command_lib/util/gcloudignore.py: _GetIgnoreFileContents,
        # FileChooser._GetIncludedPatterns; `gcloud topic gcloudignore`). What git ignores
        # (.env, keys) stays home: `COPY . /app/src` would put it in the image.
        ("what git ignores (the project needs a .gitignore, even an empty one)",
         (_INCLUDE_GITIGNORE,)),
        ("this file, rebar3 build output and local state", (GCLOUDIGNORE, *_LOCAL)),
        ("other CI services' files", _CI),
    ]
    if project.library:
        pass  # no image: .git is uploaded, as git leaves it, for the checks
    elif project.image.keep_git:
        why = "the release version comes from git (image.keep_git)"
        sections.append((f".git is uploaded: {why}", ()))
    else:
        sections.append(("git history (image.keep_git is false)", (".git", ".gitignore")))
    body = "\n".join(f"# {title}\n" + "".join(f"{p}\n" for p in names) for title, names in sections)
    return banner(project) + "\n" + body
