from __future__ import annotations

import re
from collections.abc import Iterator

from cigen.core import KeyPath, Problem
from cigen.model import AMD64, Project, is_gcp_host
from cigen.targets import environment
from cigen.targets.cloudbuild import auth, private, timeouts
from cigen.targets.cloudbuild import services as cloudbuild_services
from cigen.targets.cloudbuild import steps as build
from cigen.targets.cloudbuild import substitutions as subst

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_CB = "cloudbuild"


def descriptor_problems(project: Project, base_args: build.BaseArgs,
                        steps: list[build.Step]) -> list[Problem]:
    """What Cloud Build or the registry would reject, located at the descriptor key at fault."""
    checks = (_images, _kaniko_features, _destinations, _durations, _secrets, _registry_auth,
              _private, _paths, _publishing)
    found = [p for check in checks for p in check(project)]
    found += environment.problems(project) + cloudbuild_services.problems(project)
    found += _base_arg_keys(base_args)
    found += _references(project, base_args)
    found += _unused(project, steps)
    found += timeouts.problems(project, steps)
    return found


def _images(project: Project) -> Iterator[Problem]:
    cb = project.cloudbuild
    key = "kaniko_image" if cb.builder == "kaniko" else "docker_image"
    problem = subst.reference_problem(getattr(cb, key), pushed=False)
    if problem:
        yield Problem((_CB, key), problem)
    if cb.run_checks and key != "docker_image" and environment.used(project):
        problem = subst.reference_problem(cb.docker_image, pushed=False)
        if problem:
            yield Problem((_CB, "docker_image"), f"{problem} (it runs erlang.services)")


def _kaniko_features(project: Project) -> Iterator[Problem]:
    cb = project.cloudbuild
    if cb.kaniko_features is None:
        return
    if cb.builder != "kaniko":
        yield Problem((_CB, "kaniko_features"), f"is set but builder is {cb.builder}; only "
                      "the Kaniko variant reads it")
        return
    from cigen.kaniko.executor import from_image, parse_features

    named = from_image(cb.kaniko_image)
    if named is not None and not named.covers(parse_features(cb.kaniko_features)):
        yield Problem((_CB, "kaniko_features"), f"claims more than {cb.kaniko_image} builds "
                      f"({named.name}); write {named.features}, or remove the key")


def _publishing(project: Project) -> Iterator[Problem]:
    """What #17's publishing keys ask of a builder that Cloud Build's cannot do; never skipped
    in silence (docs/multi-arch.md, docs/signing.md)."""
    if project.library:
        return
    foreign = [p for p in project.image.platforms if p != AMD64]
    if foreign:
        # Every machine type is x86 (googleapis google/devtools/cloudbuild/v1/cloudbuild.proto,
        # BuildOptions.MachineType), and emulating the BEAM's JIT under QEMU is slow and fragile.
        yield Problem(("image", "platforms"), f"lists {', '.join(foreign)}, and Cloud Build has "
                      "no workers of that architecture; cigen does not emulate one. Build it on "
                      "GitHub or CircleCI and remove cloudbuild from targets, or publish "
                      f"[{AMD64}] only (docs/multi-arch.md)")
    if project.publish.sbom and project.cloudbuild.builder == "kaniko":
        yield Problem(("publish", "sbom"), "is true, and Kaniko makes no SBOM or provenance "
                      "attestation; set cloudbuild.builder: buildx, or remove the key to have "
                      "them where the builder makes them (docs/multi-arch.md)")
    if project.publish.sign:
        yield Problem(("publish", "sign"), "is true, and cigen does not sign images on Cloud "
                      "Build yet; sign on GitHub or CircleCI and remove cloudbuild from targets "
                      "(docs/signing.md)")


def _destinations(project: Project) -> Iterator[Problem]:
    cb = project.cloudbuild
    if project.library:
        return  # nothing is pushed
    problem = subst.reference_problem(cb.destination, pushed=True)
    if problem:
        yield Problem((_CB, "destination"), problem)
    for i, tag in enumerate(cb.tags):
        if not _TAG.match(subst.fill(tag)):
            yield Problem((_CB, "tags", i), f'"{tag}" is not a tag: at most 128 characters, '
                          "and it may not start with . or -")
    refs = subst.ref_keys((cb.destination, *cb.tags))
    if "BRANCH_NAME" in refs and "TAG_NAME" in refs:
        yield Problem((_CB, "tags"), "uses $BRANCH_NAME and $TAG_NAME, but a build has only one "
                      "of them, so the other tag is empty; use $REF_NAME")
    if cb.cache_repo is not None:
        problem = subst.repository_problem(cb.cache_repo)
        if problem or not cb.cache:
            yield Problem((_CB, "cache_repo"), problem or "is set but cloudbuild.cache is false")


def _durations(project: Project) -> Iterator[Problem]:
    cb = project.cloudbuild
    if subst.seconds(cb.cache_ttl) == 0:
        yield Problem((_CB, "cache_ttl"), f'"{cb.cache_ttl}" is no time at all; cached layers '
                      "would expire at once")
    if cb.timeout is not None and not 0 < subst.seconds(cb.timeout) <= subst.MAX_SECONDS:
        yield Problem((_CB, "timeout"), f'"{cb.timeout}" is not between 1s and 24h, '
                      "the timeouts Cloud Build accepts")
    if cb.service_account and cb.logging in ("LEGACY", "GCS_ONLY"):
        yield Problem((_CB, "logging"), f"{cb.logging} needs a logs bucket, which Cloud Build "
                      "demands with service_account; use CLOUD_LOGGING_ONLY or NONE")


def _secrets(project: Project) -> Iterator[Problem]:
    cb = project.cloudbuild
    if cb.secrets and not cb.run_checks:
        yield Problem((_CB, "secrets"), "only run_checks steps get secrets (Kaniko cannot take "
                      "one safely, and an unused secret fails the build); set run_checks: true")
    for name in cb.secrets:
        if isinstance(project.erlang.env.get(name), str):
            yield Problem((_CB, "secrets", name), f"{name} is also in erlang.env; a step cannot "
                          "have both a secret and a plain variable of one name", at_key=True)


def _registry_auth(project: Project) -> Iterator[Problem]:
    cb = project.cloudbuild
    host = cb.registry_host
    if cb.registry_auth == "service-account" and not is_gcp_host(host):
        yield Problem((_CB, "registry_auth"), f"the build's service account can push only to "
                      f"GCR and Artifact Registry, not {host}; use docker-login (Secret Manager "
                      "secrets registry_username_secret and registry_password_secret) or none")
    for key in ("registry_username_secret", "registry_password_secret"):
        if getattr(cb, key) is not None and cb.registry_auth != "docker-login":
            yield Problem((_CB, key), f"is set but registry_auth is {cb.registry_auth}; only "
                          "docker-login reads it")
    for name in auth.secrets(project):
        if name in cb.secrets:
            yield Problem((_CB, "secrets", name), f"{name} is the variable of the registry "
                          "login (registry_auth: docker-login); pick another name", at_key=True)


def _private(project: Project) -> Iterator[Problem]:
    cb = project.cloudbuild
    for key, needs in (("hex_config_secret", "hex_organizations"), ("ssh_key_secret", "git_hosts")):
        if getattr(cb, key) is not None and not getattr(project.private, needs):
            yield Problem((_CB, key), f"is set but private.{needs} is empty; nothing reads it")
    for name in private.secrets(project):
        if name in cb.secrets:
            yield Problem((_CB, "secrets", name), f"{name} is the variable of the private "
                          "dependencies' key (private); pick another name", at_key=True)
        elif cb.run_checks and name in project.erlang.env:
            yield Problem(("erlang", "env", name), f"{name} is the variable of the private "
                          "dependencies' key in the run_checks steps; pick another name",
                          at_key=True)


def _paths(project: Project) -> Iterator[Problem]:
    cb, image = project.cloudbuild, project.image
    if cb.builder == "kaniko" and image.kaniko_dockerfile == image.dockerfile:
        yield Problem(("image", "kaniko_dockerfile"), "is image.dockerfile too; the Kaniko "
                      "variant would overwrite the BuildKit Dockerfile")
    variant = image.kaniko_dockerfile if cb.builder == "kaniko" else None
    if cb.file in (".gcloudignore", variant):
        yield Problem((_CB, "file"), f'"{cb.file}" is another file the cloudbuild target writes')
    if project.publish.tags and cb.release_file in (cb.file, ".gcloudignore", variant):
        yield Problem((_CB, "release_file"), f'"{cb.release_file}" is another file the '
                      "cloudbuild target writes")


def _base_arg_keys(base_args: build.BaseArgs) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for name, _ in base_args:
        key = build.arg_key(name)
        if key in seen:
            yield Problem(("image", "dockerfile"), f"ARGs {seen[key]} and {name} would share "
                          f"the substitution {key}; rename one")
        seen[key] = name


def _sources(project: Project) -> Iterator[tuple[KeyPath, list[str]]]:
    """The substitutions each descriptor string that goes into the config refers to."""
    cb = project.cloudbuild
    yield (_CB, "destination"), subst.keys(cb.destination)
    for i, tag in enumerate(cb.tags):
        yield (_CB, "tags", i), subst.keys(tag)
    if cb.cache_repo is not None:
        yield (_CB, "cache_repo"), subst.keys(cb.cache_repo)
    for key, value in cb.substitutions.items():
        yield (_CB, "substitutions", key), subst.value_keys(value)


def _references(project: Project, base_args: build.BaseArgs) -> Iterator[Problem]:
    defined = build.substitutions(project, base_args)
    for path, keys in _sources(project):
        for key in dict.fromkeys(keys):
            if subst.unknown(key):
                yield Problem(path, f"${key} is no Cloud Build substitution (built-ins are upper "
                              f"case, yours start with _); write $${key} for a literal $")
            elif subst.USER_KEY.match(key) and key not in defined:
                yield Problem(path, f"${key} is not defined; add it to cloudbuild.substitutions")
    for key in project.cloudbuild.substitutions:
        if key.startswith(subst.SAFE_PREFIX) and key[len(subst.SAFE_PREFIX):] in subst.REF_VALUED:
            yield Problem((_CB, "substitutions", key), "is the name cigen gives a tag-safe ref; "
                          "pick another", at_key=True)
        problem = _base_value(project, base_args, key)
        if problem:
            yield Problem((_CB, "substitutions", key), problem)


def _base_value(project: Project, base_args: build.BaseArgs, key: str) -> str | None:
    if key not in {build.arg_key(name) for name, _ in base_args}:
        return None
    return subst.reference_problem(project.cloudbuild.substitutions[key], pushed=False)


def _unused(project: Project, steps: list[build.Step]) -> Iterator[Problem]:
    used = subst.all_keys(subst.strings(steps))
    for key in project.cloudbuild.substitutions:
        if key not in used:
            yield Problem((_CB, "substitutions", key), "is never used (destination, tags, "
                          "cache_repo and the base-image ARGs refer to substitutions), and Cloud "
                          "Build fails a build with an unused one", at_key=True)
