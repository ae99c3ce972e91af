from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from cigen import schema
from cigen.descriptor import schema_problems
from cigen.errors import DescriptorError
from cigen.model import Project
from cigen.targets import dockerfile as target
from cigen.targets.base import banner
from tests import oracles
from tests.conftest import FIXTURES, IMAGE_PROJECTS
from tests.helpers import load_project, texts

# hadolint rules the generated Dockerfile breaks on purpose, with the reason (README lists them).
HADOLINT_IGNORES = {
    "DL3018": "apk add without versions: packages follow the base image's Alpine release, and an "
              "exact pin breaks once Alpine drops the old build; pin with name=version in "
              "image.build_packages / image.runtime_packages",
    "DL3008": "apt-get install without versions: the same, for Debian's archive",
}
STAGES = ("builder", "prod_compiled", "releaser", "runner")
APK_CACHE = "--mount=type=cache,id=apk,sharing=locked,target=/var/cache/apk"
APT_LISTS = "--mount=type=cache,id=apt-lists,sharing=locked,target=/var/lib/apt/lists"
APT_CACHE = "--mount=type=cache,id=apt,sharing=locked,target=/var/cache/apt"
HEX_CACHE = "--mount=type=cache,id=hex-cache,sharing=locked,target=/root/.cache/rebar3"
BIND_CONTEXT = "--mount=target=/app/src"  # absolute: buildah before 1.29 refuses "."
LINK_APK_CACHE = "ln -s /var/cache/apk /etc/apk/cache"

# Descriptors beyond the fixture projects: each OS with empty, pinned and odd inputs.
VARIANTS: dict[str, dict[str, Any]] = {
    "alpine-otp22-no-packages": {
        "otp": "22.3", "image": {"build_packages": [], "runtime_packages": []},
    },
    "alpine-pinned": {"image": {
        "build_packages": ["git=2.45.2-r0", "make>=4"],
        "runtime_packages": ["openssl~3.3", "ncurses-libs=6.4_p20240420-r2"],
    }},
    "debian-pinned": {"image": {
        "os": "debian", "build_packages": ["git=1:2.39.5-0+deb12u2"],
        "runtime_packages": ["openssl=3.0.17-1~deb12u2", "ncurses-bin=6.4-4"],
    }},
    "debian-defaults": {"image": {"os": "debian"}},
    "debian-custom": {"profile": "release", "image": {
        "os": "debian", "base": "ghcr.io/acme/erlang:27.1", "runner": "debian:bookworm-slim",
        "build_packages": ["git", "build-essential=12.9"], "ports": [4000],
        "env": {"GREETING": 'say "hi" to $USER\\now', "EMPTY": "", "COOKIE": "secret-ish"},
    }},
}
CASES = [*IMAGE_PROJECTS, *VARIANTS]


def variant(name: str, otp: str = "26.2.5", profile: str = "prod", **image: Any) -> Project:
    raw = {"version": 1, "name": name, "registry": "ghcr.io/acme",
           "erlang": {"otp": otp, "release_profile": profile}, "image": image}
    assert not list(schema_problems(raw, lambda path: "?")), "variant must be schema-valid"
    return Project.create(schema.apply_defaults(raw))


def project_for(case: str) -> Project:
    if case in VARIANTS:
        spec = VARIANTS[case]
        otp, profile = spec.get("otp", "26.2.5"), spec.get("profile", "prod")
        return variant("hello", otp, profile, **spec["image"])
    return load_project(FIXTURES / case / "cigen.yaml", ("dockerfile",))


def parse(text: str) -> tuple[Any, ...]:
    return tuple(dockerfile.parse_string(text))


def stages_of(commands: tuple[Any, ...]) -> dict[str, list[Any]]:
    """Instructions by stage name, in order."""
    out: dict[str, list[Any]] = {}
    current: list[Any] = []  # what precedes the first FROM (global ARGs) belongs to no stage
    for command in commands:
        if command.cmd == "FROM":
            current = out.setdefault(command.value[2], [])
        current.append(command)
    return out


def runs(commands: list[Any]) -> list[Any]:
    return [c for c in commands if c.cmd == "RUN"]


@pytest.mark.parametrize("case", CASES)
def test_parses_with_the_four_stages_in_order(case: str) -> None:
    project = project_for(case)
    commands = parse(target.dockerfile_text(project))
    froms = [c.value for c in commands if c.cmd == "FROM"]
    assert [f[1:] for f in froms] == [("AS", s) for s in STAGES]
    bases = [project.image.base, "builder", "prod_compiled", project.image.runner]
    assert [f[0] for f in froms] == bases
    assert commands[0].cmd == "FROM"
    assert commands[0].start_line == 3


@pytest.mark.parametrize("case", CASES)
def test_syntax_directive_then_banner(case: str) -> None:
    project = project_for(case)
    lines = target.dockerfile_text(project).splitlines(keepends=True)
    assert lines[0] == "# syntax=docker/dockerfile:1\n"
    assert lines[1] == banner(project)


@pytest.mark.parametrize("case", CASES)
def test_hadolint_passes(case: str, tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(target.dockerfile_text(project_for(case)), "utf-8")
    oracles.hadolint(path, ignore=tuple(HADOLINT_IGNORES))


@pytest.mark.parametrize("case", ["alpine-pinned", "debian-pinned"])
def test_hadolint_ignores_cover_only_unpinned_packages(case: str, tmp_path: Path) -> None:
    """With every user package pinned, only the releaser's own tar install is left unpinned."""
    path = tmp_path / "Dockerfile"
    text = target.dockerfile_text(project_for(case))
    path.write_text(text, "utf-8")
    proc = oracles.run(oracles.tool("hadolint"), "-f", "json", path, ok=(0, 1))
    found = {(f["code"], f["line"]) for f in json.loads(proc.stdout)}
    tar_lines = {c.start_line for c in parse(text) if "apk add --update tar" in c.original}
    assert found == {("DL3018", line) for line in tar_lines}


@pytest.mark.parametrize("case", CASES)
def test_kaniko_variant_has_no_buildkit_only_syntax(case: str) -> None:
    try:
        from cigen.kaniko import convert
    except ImportError:
        pytest.skip("cigen/dockerfile/kaniko.py has no convert() yet (issue 3, part 2)")
    project = project_for(case)
    converted = convert(target.dockerfile_text(project), project.image.dockerfile,
                        published_stage=project.image.target).text
    commands = parse(converted)
    assert not [c for c in commands if any(f.startswith("--mount") for f in c.flags)]
    assert not [c for c in commands if c.heredocs]
    assert "# syntax" not in converted
    assert list(stages_of(commands)) == list(STAGES)


def test_the_chapter_design_for_service_discovery() -> None:
    """reference/service-discovery.md §1-2: each point of the chapter's BuildKit Dockerfile."""
    project = project_for("service_discovery")
    text = target.dockerfile_text(project)
    stage = stages_of(parse(text))
    builder, compiled, releaser, runner = (stage[s] for s in STAGES)
    # Stages and their bases: the mirrored builder and runner images, used directly in FROM.
    assert list(stage) == list(STAGES)
    assert builder[0].value[0] == "us.gcr.io/adoptingerlang/erlang:22.1.1-alpine"
    assert runner[0].value[0] == "us.gcr.io/adoptingerlang/alpine:3.10.2"
    # REBAR_BASE_DIR outside the (read-only, bind-mounted) source directory.
    assert ("WORKDIR", ("/app/src",)) in [(c.cmd, c.value) for c in builder]
    assert ("ENV", ("REBAR_BASE_DIR", "/app/_build")) in [(c.cmd, c.value) for c in builder]
    # apk with its cache mount (id apk) and the /etc/apk/cache link that turns the cache on.
    git = runs(builder)[0]
    assert git.flags == (APK_CACHE,)
    assert git.value == (f"{LINK_APK_CACHE} && apk add --update git",)
    # The dependencies-only layer from rebar.config + rebar.lock, with the hex-cache mount.
    copy = next(c for c in builder if c.cmd == "COPY")
    assert copy.value == ("rebar.config", "rebar.lock", "./")
    assert runs(builder)[1].flags == (HEX_CACHE,)
    assert runs(builder)[1].value == ("rebar3 compile",)
    # A bind mount of the context instead of COPY . . in prod_compiled and releaser.
    assert not [c for c in builder + compiled + releaser if c.cmd == "COPY" and c.value[0] == "."]
    assert runs(compiled) == [c for c in compiled if c.cmd == "RUN"]
    assert runs(compiled)[0].flags == (BIND_CONTEXT, HEX_CACHE)
    assert runs(compiled)[0].value == ("rebar3 as prod compile",)
    # The releaser: GNU tar, /opt/rel, the release tarball unpacked there.
    tar, mkdir, release = runs(releaser)
    assert tar.flags == (APK_CACHE,)
    assert tar.value == ("apk add --update tar",)
    assert mkdir.value == ("mkdir -p /opt/rel",)
    assert release.flags == (BIND_CONTEXT, HEX_CACHE)
    assert release.value[0].startswith("rebar3 as prod tar && tar -zxvf ")
    assert release.value[0].endswith(" -C /opt/rel")
    # The runner: one ENV with COOKIE, RELX_OUT_FILE_PATH and the app defaults.
    env = next(c for c in runner if c.cmd == "ENV")
    assert env.value == ("COOKIE", '"service_discovery"', "RELX_OUT_FILE_PATH", '"/tmp"',
                         "DB_HOST", '"127.0.0.1"', "LOGGER_LEVEL", '"debug"', "SCHEDULERS", '"1"')
    assert runs(runner)[0].flags == (APK_CACHE,)
    assert runs(runner)[0].value == (f"{LINK_APK_CACHE} && apk add --update openssl ncurses",)
    copies = [(c.cmd, c.flags, c.value) for c in runner]
    assert ("COPY", ("--from=releaser",), ("/opt/rel", ".")) in copies
    assert ("EXPOSE", ("8053", "3000", "8081")) in [(c.cmd, c.value) for c in runner]
    entrypoint, cmd = runner[-2:]
    assert (entrypoint.cmd, entrypoint.json) == ("ENTRYPOINT", True)
    assert entrypoint.value == ("/opt/service_discovery/bin/service_discovery",)
    assert (cmd.cmd, cmd.json, cmd.value) == ("CMD", True, ("foreground",))
    # Not root: a numeric USER (Kubernetes runAsNonRoot can check it) before the entrypoint.
    user = next(c for c in runner if c.cmd == "USER")
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user.value[0])
    assert runner.index(user) > next(i for i, c in enumerate(runner) if c.cmd == "COPY")


def test_debian_layout() -> None:
    text = target.dockerfile_text(project_for("debian-defaults"))
    stage = stages_of(parse(text))
    for name in ("builder", "runner"):
        install = runs(stage[name])[0]
        assert install.flags == (APT_LISTS, APT_CACHE)
        # docker-clean would empty the cache; apt-get update must come before the install.
        assert re.fullmatch(r"rm -f /etc/apt/apt.conf.d/docker-clean && apt-get update && "
                            r"apt-get install -y --no-install-recommends \S.*", install.value[0])
    assert not [c for c in runs(stage["releaser"]) if "apt-get" in c.value[0]]  # GNU tar is there
    assert "apk" not in text
    assert "useradd --no-log-init" in text


def test_alpine_links_the_apk_cache_once_per_image() -> None:
    """`ln -s` fails when the link exists: the releaser makes it only if the builder did not."""
    with_git = stages_of(parse(target.dockerfile_text(variant("hello"))))
    assert not runs(with_git["releaser"])[0].value[0].startswith("ln -s")
    bare = project_for("alpine-otp22-no-packages")
    stage = stages_of(parse(target.dockerfile_text(bare)))
    assert [c for c in runs(stage["builder"]) if "apk" in c.value[0]] == []
    assert runs(stage["releaser"])[0].value == (f"{LINK_APK_CACHE} && apk add --update tar",)
    assert not [c for c in runs(stage["runner"]) if "apk" in c.value[0]]


def test_alpine_runtime_default_follows_the_otp_release() -> None:
    assert variant("hello", "23.3").image.runtime_packages == ("openssl", "ncurses")
    assert variant("hello", "24.0").image.runtime_packages == ("openssl", "ncurses", "libstdc++")
    debian = variant("hello", "26.2.5", os="debian")
    assert debian.image.runtime_packages == ("openssl", "ncurses-bin", "ca-certificates")


def test_package_constraints_are_shell_quoted() -> None:
    text = target.dockerfile_text(project_for("alpine-pinned"))
    assert "apk add --update git=2.45.2-r0 'make>=4'\n" in text
    assert "apk add --update 'openssl~3.3' ncurses-libs=6.4_p20240420-r2\n" in text


def test_custom_profile_ports_and_paths() -> None:
    project = project_for("debian-custom")
    text = target.dockerfile_text(project)
    assert "rebar3 as release compile" in text
    assert '"$REBAR_BASE_DIR"/release/rel/hello/hello-*.tar.gz -C /opt/rel' in text
    assert "\nEXPOSE 4000\n" in text
    assert "\nEXPOSE" not in target.dockerfile_text(variant("hello"))


def test_env_values_reach_the_image_literally(tmp_path: Path) -> None:
    """A real builder (buildah) reads the generated ENV back as exactly the descriptor's values."""
    project = project_for("debian-custom")
    runner = stages_of(parse(target.dockerfile_text(project)))["runner"]
    env = next(c for c in runner if c.cmd == "ENV")
    (tmp_path / "ctx").mkdir()
    (tmp_path / "Containerfile").write_text(f"FROM scratch\n{env.original}\n", "utf-8")
    buildah = _buildah(tmp_path)
    oracles.run(*buildah, "build", "--isolation", "chroot", "-f", tmp_path / "Containerfile",
                "-t", "localhost/cigen-env:test", tmp_path / "ctx")
    proc = oracles.run(*buildah, "inspect", "--type", "image", "localhost/cigen-env:test")
    pairs = [e.split("=", 1) for e in json.loads(proc.stdout)["OCIv1"]["config"]["Env"]]
    assert {k: v for k, v in pairs if k != "PATH"} == dict(project.image.env)
    assert dict(project.image.env)["GREETING"] == 'say "hi" to $USER\\now'


def test_render_writes_the_dockerfile_path_and_the_dockerignore() -> None:
    project = variant("hello", dockerfile="docker/Dockerfile")
    files = texts(project, "dockerfile")
    assert sorted(files) == [".dockerignore", "docker/Dockerfile"]
    assert files["docker/Dockerfile"] == target.dockerfile_text(project)


def _buildah(tmp_path: Path) -> list[str | Path]:
    return [oracles.tool("buildah"), "--root", tmp_path / "root", "--runroot", tmp_path / "runroot",
            "--storage-driver", "vfs"]


# -- descriptor problems only the Dockerfile can see ---------------------------------------------

def _load(tmp_path: Path, text: str) -> Project:
    path = tmp_path / "cigen.yaml"
    path.write_text(text, "utf-8")
    return load_project(path, ("dockerfile",))


HEAD = "version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang:\n  otp: \"26.2.5\"\nimage:\n"


@pytest.mark.parametrize(("image", "message"), [
    ('  env:\n    MOTD: "two\\nlines"\n',
     '8:11: image.env.MOTD: contains a line break; a Dockerfile ENV value cannot'),
    ("  os: debian\n  runtime_packages: [openssl, 'ncurses-bin>=6']\n",
     '8:31: image.runtime_packages[1]: "ncurses-bin>=6": '
     'apt-get pins a version only as name=version'),
    ("  os: debian\n  runner: alpine:3.20\n",
     '8:11: image.runner: names "alpine", but image.os is debian; set image.os to match'),
    ("  base: erlang:26.2.5\n  runner: debian:bookworm-slim\n",
     '8:11: image.runner: names "debian", but image.os is alpine; set image.os to match'),
])
def test_problems_are_located_in_the_descriptor(tmp_path: Path, image: str, message: str) -> None:
    with pytest.raises(DescriptorError) as info:
        _load(tmp_path, HEAD + image)
    assert info.value.problems == [f"{tmp_path / 'cigen.yaml'}:{message}"]


def test_alpine_takes_version_constraints(tmp_path: Path) -> None:
    project = _load(tmp_path, HEAD + "  runtime_packages: ['openssl>=3', ncurses]\n")
    assert project.image.runtime_packages == ("openssl>=3", "ncurses")


# -- .dockerignore --------------------------------------------------------------------------------

def ignore_patterns(project: Project) -> list[str]:
    text = texts(project, "dockerfile")[".dockerignore"]
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_dockerignore_keeps_git_unless_told() -> None:
    assert ".git" not in ignore_patterns(variant("hello"))
    assert ".git" in ignore_patterns(variant("hello", keep_git=False))


def test_dockerignore_lists_generated_files_outside_the_ci_folders() -> None:
    project = variant("hello", dockerfile="docker/Dockerfile",
                      kaniko_dockerfile="Dockerfile.kaniko")
    patterns = ignore_patterns(project)
    assert {"_build", "_checkouts", ".circleci", ".github", "ci", "cigen.yaml", "cloudbuild.yaml",
            "docker/Dockerfile", "Dockerfile.kaniko"} <= set(patterns)
    assert len(patterns) == len(set(patterns))
    # The defaults live in ci/ and .github/, which are ignored whole.
    assert not [p for p in ignore_patterns(variant("hello")) if p.startswith(("ci/", ".github/"))]


# What a real builder must leave out of, and keep in, the context of a rebar3 project.
CONTEXT_KEPT = ("rebar.config", "rebar.lock", "apps/web/src/web.erl", "config/sys.config.src",
                ".git/HEAD", "README.md")
CONTEXT_DROPPED = ("_build/default/lib/x.beam", "_checkouts/dep/rebar.config", "ci/build_images.sh",
                   "ci/Dockerfile.cb", ".github/workflows/ci.yml", ".circleci/config.yml",
                   "cloudbuild.yaml", "cigen.yaml", "Dockerfile", "apps/web/src/.web.erl.swp",
                   "apps/.DS_Store", ".vscode/settings.json", "erl_crash.dump")


@pytest.mark.parametrize("case", IMAGE_PROJECTS)
def test_dockerignore_with_a_real_builder(case: str, tmp_path: Path) -> None:
    """buildah applies the generated .dockerignore to `COPY . /ctx/`; the right files survive."""
    project = project_for(case)
    context = tmp_path / "ctx"
    for rel in CONTEXT_KEPT + CONTEXT_DROPPED:
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        (context / rel).write_text(rel, "utf-8")
    (context / ".dockerignore").write_text(texts(project, "dockerfile")[".dockerignore"], "utf-8")
    (tmp_path / "Containerfile").write_text("FROM scratch\nCOPY . /ctx/\n", "utf-8")
    out = tmp_path / "out"
    oracles.run(*_buildah(tmp_path), "build", "--isolation", "chroot",
                "-f", tmp_path / "Containerfile", "--output", f"type=local,dest={out}", context)
    copied = {str(p.relative_to(out / "ctx")) for p in (out / "ctx").rglob("*") if p.is_file()}
    git = set() if project.image.keep_git else {".git/HEAD"}  # kept only for git versions
    assert copied == {*CONTEXT_KEPT, ".dockerignore"} - git


@pytest.mark.parametrize("case", ["debian-pinned", "alpine-pinned", *IMAGE_PROJECTS])
def test_valid_descriptors_have_no_dockerfile_problems(case: str) -> None:
    assert target.problems(project_for(case)) == []
