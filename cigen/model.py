from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from cigen import compat
from cigen.core import normalise

RELEASE_STAGES = ("builder", "prod_compiled", "releaser", "runner")
# Where the descriptor may add Dockerfile instructions (overrides.<image.dockerfile>).
INSERTION_POINTS = ("builder", "builder_end", "runner", "runner_end")
AMD64 = "linux/amd64"
ARM64 = "linux/arm64"


def arch(platform: str) -> str:
    """`arm64` of `linux/arm64`: a platform's part of a job name, cache scope or tag."""
    return platform.split("/", 1)[1]


_GCP_SUFFIXES = ("gcr.io", "-docker.pkg.dev")
# The Secret Manager secrets a docker-login Cloud Build reads unless the descriptor names others.
_REGISTRY_SECRET = "projects/$PROJECT_ID/secrets/registry-{}/versions/latest"  # noqa: S105 (a name)
# And the ones that hold the keys of private dependencies (`private`).
_PRIVATE_SECRET = "projects/$PROJECT_ID/secrets/{}/versions/latest"  # noqa: S105 (a name)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Secret:
    """An environment value the CI's secret store holds under `name`; never written to a file."""

    name: str


EnvValue = str | Secret


def _env(raw: Mapping[str, Any]) -> Mapping[str, EnvValue]:
    return _frozen({key: Secret(value["secret"]) if isinstance(value, Mapping) else value
                    for key, value in raw.items()})


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    env: Mapping[str, EnvValue]
    ports: tuple[int, ...]
    health: str | None

    @classmethod
    def create(cls, raw: Mapping[str, Any]) -> Service:
        return cls(
            name=raw["name"],
            image=raw["image"],
            env=_env(raw.get("env", {})),
            ports=tuple(raw.get("ports", ())),
            health=raw.get("health"),
        )

    @property
    def host_var(self) -> str:
        """The variable that holds this service's host name in the check jobs."""
        return self.name.upper().replace("-", "_") + "_HOST"


@dataclass(frozen=True)
class StepCache:
    path: str
    key: str


@dataclass(frozen=True)
class SetupStep:
    name: str
    run: str
    cache: StepCache | None = None

    @classmethod
    def create(cls, raw: Mapping[str, Any]) -> SetupStep:
        cache = raw.get("cache")
        step_cache = StepCache(cache["path"], cache["key"]) if cache else None
        return cls(raw["name"], raw["run"], step_cache)


class Release(NamedTuple):
    """One OTP release the checks run on, with the rebar3 they run it with."""

    otp: str
    rebar3: str | None  # None: no rebar3 release in the table supports `otp` (a problem)


@dataclass(frozen=True)
class Erlang:
    otp: str
    rebar3: str | None  # None: no rebar3 release in the table supports `otp` (a problem)
    release_profile: str
    checks: tuple[str, ...]
    env: Mapping[str, EnvValue]
    services: tuple[Service, ...]
    setup: Mapping[str, tuple[SetupStep, ...]]
    timeouts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # min
    matrix: tuple[Release, ...] = ()  # further releases the checks run on (not the image's)

    @property
    def releases(self) -> tuple[Release, ...]:
        """Every release the checks run on: `otp` first, then the matrix."""
        return (Release(self.otp, self.rebar3), *self.matrix)

    @classmethod
    def create(cls, raw: Mapping[str, Any]) -> Erlang:
        setup = {
            check: tuple(SetupStep.create(s) for s in steps)
            for check, steps in raw["setup"].items()
        }
        # A set rebar3 serves every release; else each gets the newest that supports it.
        matrix = tuple(Release(otp, raw.get("rebar3") or compat.newest_rebar3(otp))
                       for otp in raw.get("matrix", ()))
        return cls(
            otp=raw["otp"],
            # The newest rebar3 that supports the OTP: a fixed default fits only some releases.
            rebar3=raw.get("rebar3") or compat.newest_rebar3(raw["otp"]),
            release_profile=raw["release_profile"],
            checks=tuple(raw["checks"]),
            env=_env(raw["env"]),
            services=tuple(Service.create(s) for s in raw["services"]),
            setup=_frozen(setup),
            timeouts=_frozen(dict(raw["timeouts"])),
            matrix=matrix,
        )


@dataclass(frozen=True)
class Image:
    os: str
    base: str
    runner: str | None  # None: cigen cannot tell base's OS release, so it asks (a problem)
    dockerfile: str
    generate: bool
    kaniko_dockerfile: str
    target: str
    build_packages: tuple[str, ...]
    runtime_packages: tuple[str, ...]
    ports: tuple[int, ...]
    env: Mapping[str, str]
    keep_git: bool
    defaulted: frozenset[str] = frozenset()  # the keys of base, runner and target cigen chose
    # Dockerfile instructions by insertion point (overrides.<dockerfile>, docs/overrides.md),
    # and that overrides key as written, where problems with them are located.
    insertions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    insertions_key: str = ""
    platforms: tuple[str, ...] = (AMD64,)  # more than one: a native build each, then one list

    @property
    def multi_platform(self) -> bool:
        return len(self.platforms) > 1

    @classmethod
    def create(cls, raw: Mapping[str, Any], name: str, otp: str) -> Image:
        alpine = raw["os"] == "alpine"
        default_base = f"erlang:{otp}-alpine" if alpine else f"erlang:{otp}"
        base = raw.get("base", default_base)
        # The runner is the builder's OS release: the release's ERTS is linked against the
        # builder's libc and OpenSSL (see docs/compatibility.md).
        release = compat.image_release(base)
        default_runtime: tuple[str, ...] = (
            # --no-install-recommends leaves out the trust store that TLS clients read.
            ("openssl", "ncurses") if alpine else ("openssl", "ncurses-bin", "ca-certificates")
        )
        if alpine and int(otp.split(".")[0]) >= 24:
            # OTP 24's JIT links beam.smp against libstdc++, which Alpine does not ship.
            default_runtime += ("libstdc++",)
        # The start script writes its generated config to /tmp: the runner's one writable path.
        env = {"COOKIE": name, **raw["env"], "RELX_OUT_FILE_PATH": "/tmp"}  # noqa: S108
        return cls(
            os=raw["os"],
            base=base,
            runner=raw.get("runner", release.runner if release else None),
            dockerfile=raw["dockerfile"],
            generate=raw["generate"],
            kaniko_dockerfile=raw["kaniko_dockerfile"],
            # A user's Dockerfile: the loader picks its published stage (descriptor/stages.py).
            target=raw.get("target", "runner"),
            build_packages=tuple(raw["build_packages"]),
            runtime_packages=tuple(raw.get("runtime_packages", default_runtime)),
            ports=tuple(raw["ports"]),
            env=_frozen(env),
            keep_git=raw["keep_git"],
            defaulted=frozenset(key for key in ("base", "runner", "target") if key not in raw),
            platforms=tuple(raw["platforms"]),
        )


@dataclass(frozen=True)
class Private:
    hex_organizations: tuple[str, ...] = ()
    git_hosts: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.hex_organizations or self.git_hosts)


@dataclass(frozen=True)
class Publish:
    branches: tuple[str, ...]
    after: tuple[str, ...]
    cache_from: str | None
    tags: tuple[str, ...] = ("v*",)  # git tag patterns that publish <image>:<version>
    sign: bool = False  # cosign keyless signature of each pushed digest
    # SBOM and provenance attestations; None: not written, so made where the builder can
    sbom: bool | None = None

    @property
    def attest(self) -> bool:
        """Whether a builder that can make SBOM and provenance attestations makes them."""
        return self.sbom is not False

    @classmethod
    def create(cls, raw: Mapping[str, Any]) -> Publish:
        branches = tuple(raw["branches"])
        default_cache = branches[0] if branches else None
        return cls(branches, tuple(raw["after"]), raw.get("cache_from", default_cache),
                   tuple(raw["tags"]), raw["sign"], raw.get("sbom"))


@dataclass(frozen=True)
class CircleCI:
    workflow: str
    orbs: Mapping[str, str]
    machine_image: str
    registry_auth: str
    context: str | None
    arm_resource_class: str = "arm.medium"  # the linux/arm64 image job's (image.platforms)


@dataclass(frozen=True)
class GitHub:
    workflow_file: str
    runs_on: str
    cache: str
    auth: str
    pin_actions: bool
    # The GitHub environment of the publish job (targets/github/publish.py); None: one image job.
    environment: str | None = None
    # The environment of the other jobs that read secrets (targets/github/secrets.py).
    secrets_environment: str | None = None
    # The repository's action pins file, and what the loader read of it: owner/repo ->
    # (tag, sha); an action it lacks takes cigen's shipped pin (targets/github/pins.py).
    action_pins: str = ".github/cigen-action-pins.json"
    pins: Mapping[str, tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    refresh: Refresh | None = None  # the scheduled pin refresh workflow
    arm_runs_on: str = "ubuntu-24.04-arm"  # the linux/arm64 image build's runner (multi-arch)


@dataclass(frozen=True)
class Refresh:
    schedule: str  # a cron line
    workflow_file: str
    branch: str
    token_secret: str | None = None  # the secret that pushes and opens the PR; else GITHUB_TOKEN
    package: str | None = None  # what pipx installs; None: cigen at the version that rendered


@dataclass(frozen=True)
class CloudBuild:
    file: str
    kaniko_image: str
    cache: bool
    cache_ttl: str
    substitutions: Mapping[str, str]  # the user's only; the target adds one per base-image ARG
    destination: str
    tags: tuple[str, ...]
    cache_repo: str | None
    builder: str  # "kaniko" or "buildx"; buildx by default with private dependencies
    docker_image: str
    run_checks: bool
    timeout: str | None  # a duration as written, e.g. "1h30m"
    machine_type: str | None
    logging: str | None
    service_account: str | None
    secrets: Mapping[str, str]  # env name -> Secret Manager version name
    registry_auth: str  # "service-account", "docker-login" or "none"
    registry_username_secret: str | None  # Secret Manager versions; set only with docker-login
    registry_password_secret: str | None
    release_file: str
    # Secret Manager versions of the private dependencies' keys; set only with private.
    hex_config_secret: str | None = None
    ssh_key_secret: str | None = None
    # The executor the Kaniko variant is written for, as written; None: read from kaniko_image.
    kaniko_features: str | None = None

    @property
    def registry_host(self) -> str:
        """The host the image step pushes to (substitutions as written)."""
        return self.destination.split("/", 1)[0]


@dataclass(frozen=True)
class Project:
    """The validated descriptor with every default resolved; renderers read only this."""

    source: str  # descriptor file name, for the generated-file banner
    name: str
    image_name: str
    registry: str
    targets: tuple[str, ...]
    erlang: Erlang
    image: Image
    publish: Publish
    circleci: CircleCI
    github: GitHub
    cloudbuild: CloudBuild
    user_dockerfile: str | None = None  # the user's Dockerfile text when image.generate is false
    rebar_lock: bool = True  # rebar.lock is beside the descriptor (the loader looks; else True)
    # The relx release names rebar.config gives the release profile (the loader reads them;
    # none: no rebar.config, or no release in it).
    release_names: tuple[str, ...] = ()
    # The rebar3 project's folder from the descriptor's (the repository's root), normalised;
    # image.dockerfile and image.kaniko_dockerfile are joined to it in the model.
    directory: str = "."
    # image: false, a library: CI runs the checks only; no image, registry or publishing
    # (cigen/descriptor/library.py refuses their keys, and the values here are unused defaults)
    library: bool = False
    private: Private = Private()
    # output path -> JSON Patch operations, in the descriptor's order (cigen/overrides.py)
    overrides: tuple[tuple[str, tuple[dict[str, Any], ...]], ...] = ()

    @property
    def registry_host(self) -> str:
        return self.registry.split("/", 1)[0]

    @property
    def image_repo(self) -> str:
        return f"{self.registry}/{self.image_name}"

    def in_directory(self, path: str) -> str:
        """A path of the rebar3 project's (rebar.lock, _build), from the descriptor's folder."""
        return _joined(self.directory, path)

    @classmethod
    def create(cls, raw: Mapping[str, Any], source: str = "cigen.yaml") -> Project:
        """Build the model from a schema-valid descriptor whose static defaults are applied."""
        if raw["image"] is False:
            return _library(cls.create({**raw, "image": _image_defaults(), "registry": ""},
                                       source))
        registry = raw["registry"]
        host = registry.split("/", 1)[0]
        directory = normalise(raw["directory"])
        image = _with_insertions(_in_directory(
            Image.create(raw["image"], raw["name"], raw["erlang"]["otp"]), directory),
            raw["overrides"])
        image_name = raw.get("image_name", raw["name"])
        private = Private(tuple(raw["private"]["hex_organizations"]),
                          tuple(raw["private"]["git_hosts"]))
        return cls(
            source=source,
            name=raw["name"],
            image_name=image_name,
            registry=registry,
            targets=tuple(raw["targets"]),
            erlang=Erlang.create(raw["erlang"]),
            image=image,
            publish=Publish.create(raw["publish"]),
            circleci=_circleci(raw["circleci"], host),
            github=_github(raw["github"], host),
            cloudbuild=_cloudbuild(raw["cloudbuild"], f"{registry}/{image_name}", image, private),
            private=private,
            directory=directory,
            overrides=tuple((path, tuple(ops)) for path, ops in raw["overrides"].items()
                            if isinstance(ops, list)),  # a mapping: Dockerfile insertions
        )


def _with_insertions(image: Image, overrides: Mapping[str, Any]) -> Image:
    """The image with the insertions keyed on its Dockerfile (the loader refuses others)."""
    from dataclasses import replace

    for key, points in overrides.items():
        if isinstance(points, Mapping) and normalise(key) == normalise(image.dockerfile):
            return replace(image, insertions=_frozen(points), insertions_key=key)
    return image


def _in_directory(image: Image, directory: str) -> Image:
    """The image's Dockerfile paths, written inside `directory`, from the descriptor's folder
    (as written when the project is there)."""
    from dataclasses import replace

    if directory == ".":
        return image
    return replace(image, dockerfile=_joined(directory, image.dockerfile),
                   kaniko_dockerfile=_joined(directory, image.kaniko_dockerfile))


def _joined(directory: str, path: str) -> str:
    return path if directory == "." else normalise(posixpath.join(directory, path))


def _image_defaults() -> dict[str, Any]:
    from cigen.schema import apply_defaults

    image: dict[str, Any] = apply_defaults({"image": {}})["image"]
    return image


def _library(project: Project) -> Project:
    """A library's model: publishing nothing, and logging in to no registry."""
    from dataclasses import replace

    nothing = replace(project.publish, branches=(), after=(), cache_from=None, tags=())
    # Its Cloud Build config is the checks, whatever run_checks' default says.
    cloudbuild = replace(project.cloudbuild, registry_auth="none", registry_username_secret=None,
                         registry_password_secret=None, run_checks=True)
    return replace(project, library=True, publish=nothing, cloudbuild=cloudbuild,
                   circleci=replace(project.circleci, registry_auth="none"))


def is_gcp_host(host: str) -> bool:
    """GCR or Artifact Registry: hosts gcloud's credentials (gcr-auth, WIF) log in to."""
    return host.endswith(_GCP_SUFFIXES)


def _circleci(raw: Mapping[str, Any], host: str) -> CircleCI:
    from cigen.schema import static_default

    orbs = {**static_default("circleci.orbs"), **raw["orbs"]}
    auth = raw.get("registry_auth", "gcr" if is_gcp_host(host) else "docker-login")
    return CircleCI(raw["workflow"], _frozen(orbs), raw["machine_image"], auth, raw.get("context"),
                    raw["arm_resource_class"])


def _github(raw: Mapping[str, Any], host: str) -> GitHub:
    default_auth = "ghcr" if host == "ghcr.io" else "gcp" if is_gcp_host(host) else "docker-login"
    auth = raw.get("auth", default_auth)
    refresh = raw.get("refresh")
    return GitHub(raw["workflow_file"], raw["runs_on"], raw["cache"], auth, raw["pin_actions"],
                  raw.get("environment"), raw.get("secrets_environment"), raw["action_pins"],
                  refresh=Refresh(refresh["schedule"], refresh["workflow_file"],
                                  refresh["branch"], refresh.get("token_secret"),
                                  refresh.get("package"))
                  if refresh else None,
                  arm_runs_on=raw["arm_runs_on"])


def _cloudbuild(raw: Mapping[str, Any], repo: str, image: Image, private: Private) -> CloudBuild:
    account = raw.get("service_account")
    # Cloud Build refuses a build with its own service account that logs to the default bucket.
    logging = raw.get("logging", "CLOUD_LOGGING_ONLY" if account else None)
    destination = raw.get("destination", f"{repo}:$COMMIT_SHA")
    host = destination.split("/", 1)[0]
    auth = raw.get("registry_auth", "service-account" if is_gcp_host(host) else "docker-login")
    login = auth == "docker-login"
    return CloudBuild(
        file=raw["file"],
        kaniko_image=raw["kaniko_image"],
        cache=raw["cache"],
        cache_ttl=raw["cache_ttl"],
        substitutions=_frozen(raw["substitutions"]),
        destination=destination,
        tags=tuple(raw["tags"]),
        cache_repo=raw.get("cache_repo"),
        # Kaniko can take no private dependency safely (docs/private-dependencies.md).
        builder=raw.get("builder", "buildx" if private else "kaniko"),
        docker_image=raw["docker_image"],
        run_checks=raw["run_checks"],
        timeout=raw.get("timeout"),
        machine_type=raw.get("machine_type"),
        logging=logging,
        service_account=account,
        secrets=_frozen(raw["secrets"]),
        registry_auth=auth,
        registry_username_secret=raw.get(
            "registry_username_secret", _REGISTRY_SECRET.format("username") if login else None),
        registry_password_secret=raw.get(
            "registry_password_secret", _REGISTRY_SECRET.format("password") if login else None),
        release_file=raw["release_file"],
        hex_config_secret=raw.get("hex_config_secret", _PRIVATE_SECRET.format("hex-config")
                                  if private.hex_organizations else None),
        ssh_key_secret=raw.get("ssh_key_secret", _PRIVATE_SECRET.format("ssh-key")
                               if private.git_hosts else None),
        kaniko_features=raw.get("kaniko_features"),
    )
