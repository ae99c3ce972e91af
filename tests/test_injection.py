from __future__ import annotations

import contextlib
import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from cigen.errors import DescriptorError
from cigen.model import Project
from cigen.yamlio import load_plain
from tests import oracles
from tests import strategies as gen
from tests.conftest import FIXTURES
from tests.helpers import load_project, outputs
from tests.targets.test_build_images import Repo

BASE: dict[str, Any] = {"version": 1, "name": "hello", "registry": "ghcr.io/acme",
                        "erlang": {"otp": "26.2.5"}}
CANARY = "cigen-pwned"  # every shell payload in the corpus touches a file with this name
# Keys whose values are names, references, versions or paths: the schema (or a target) refuses
# every hostile value there, naming the key. `{}` puts the value in a map key (an env name),
# `[0]` in the first item of a list.
CONSTRAINED = (
    "name", "image_name", "registry", "erlang.otp", "erlang.rebar3", "erlang.release_profile",
    "erlang.env.{}", "image.env.{}", "image.base", "image.runner", "image.target",
    "image.build_packages[0]", "image.dockerfile", "image.kaniko_dockerfile", "image.ports[0]",
    "publish.branches[0]", "publish.cache_from", "circleci.workflow", "circleci.context",
    "circleci.machine_image", "circleci.orbs.rebar3", "github.runs_on", "github.workflow_file",
    "cloudbuild.file", "cloudbuild.kaniko_image", "cloudbuild.cache_ttl", "cloudbuild.timeout",
    "cloudbuild.tags[0]", "cloudbuild.destination", "cloudbuild.cache_repo",
    "cloudbuild.service_account", "cloudbuild.substitutions.{}", "erlang.services[0].name",
    "erlang.services[0].image", "erlang.services[0].ports[0]", "erlang.setup.ct[0].cache.path",
    "erlang.setup.ct[0].cache.key",
)
# What passes, and why it is harmless: a file may be named --push (every CI passes it as the
# value of --file/--dockerfile=./, a cache folder is no argument at all), and $PROJECT_ID is
# the Cloud Build substitution it means.
ACCEPTED = {("image.dockerfile", "--push"), ("image.kaniko_dockerfile", "--push"),
            ("cloudbuild.file", "--push"), ("erlang.setup.ct[0].cache.path", "--push"),
            ("cloudbuild.tags[0]", "$PROJECT_ID"), ("cloudbuild.cache_repo", "$PROJECT_ID")}
PORTS = (0, -1, 65536, "80", 80.5, True, "80; touch cigen-pwned")
# What a hostile value needs around it to reach its key: a service, a setup step.
AROUND = {
    "erlang.services": [{"name": "db", "image": "postgres:16.4", "ports": [5432]}],
    "erlang.setup": {"ct": [{"name": "step", "run": "true", "cache": {"path": "t", "key": "k"}}]},
}


def descriptor_with(slot: str, value: Any) -> dict[str, Any]:
    """BASE with `value` at `slot`."""
    d: dict[str, Any] = json.loads(json.dumps(BASE))
    for prefix, around in AROUND.items():
        if slot.startswith(prefix):
            d["erlang"][prefix.split(".")[1]] = json.loads(json.dumps(around))
    keys = re.findall(r"[^.\[\]]+|\[0\]", slot)
    node: Any = d
    for key, after in zip(keys[:-1], keys[1:], strict=True):
        node = node[0] if key == "[0]" else node.setdefault(key, [] if after == "[0]" else {})
    last = keys[-1]
    if last == "{}":
        node[value] = "x"
    elif last == "[0]":
        node[:] = [value]
    else:
        node[last] = value
    return d


def written(root: Path, descriptor: dict[str, Any]) -> tuple[Project, dict[str, str]]:
    """The descriptor's outputs, rendered and written under `root` as `cigen render` would."""
    from cigen import files

    project, out = gen.render(gen.write_project(root, descriptor))
    files.write(outputs(out), root)
    return project, out


def load(tmp_path: Path, descriptor: dict[str, Any]) -> Project:
    return load_project(gen.write_project(tmp_path, descriptor, as_json=True))


def refusal(tmp_path: Path, descriptor: dict[str, Any]) -> list[str]:
    """The problems a descriptor is refused with; none when it loads."""
    try:
        load(tmp_path, descriptor)
    except DescriptorError as e:
        return e.problems
    return []


@pytest.mark.parametrize("slot", CONSTRAINED)
def test_hostile_values_in_constrained_keys_are_refused_by_name(tmp_path: Path, slot: str) -> None:
    accepted = []
    for value in PORTS if slot.endswith("ports") else gen.HOSTILE:
        problems = refusal(tmp_path, descriptor_with(slot, value))
        words = re.findall(r"[a-z_0-9]+", slot.replace("[0]", ""))
        named = [p for p in problems if p.startswith(str(tmp_path / "cigen.yaml"))
                 and all(word in p for word in words)]
        assert named == problems, (value, problems)
        if not problems:
            accepted.append(value)
    assert {(slot, v) for v in accepted} <= ACCEPTED, accepted


# --- ci/build_images.sh: hostile branch names reach docker as inert, tag-safe argv ---

SCRIPT_DESCRIPTOR = {
    **BASE, "registry": "localhost:5000/a-b.c__d/e", "image_name": "x.y-z",
    "image": {"dockerfile": "--push", "target": "prod_compiled"},
    "publish": {"branches": ["release/.x-y"]},
}
# Branch names come from the CI (CIRCLE_BRANCH, GITHUB_REF_NAME): a pull request chooses them.
BRANCHES = tuple(v for v in gen.HOSTILE + gen.YAML_TRICKY if "\x00" not in v) + (
    "main\n--push", "-p", "x" * 300, ".-.-lead", "ü" * 70)


def tag_of(branch: str) -> str:
    """What the script must make of a branch, computed here byte by byte (it runs LC_ALL=C)."""
    raw = re.sub(rb"[^A-Za-z0-9_.-]", b"-", branch.encode())
    return raw.decode().lstrip(".-")[:128]


def expected_argv(sha: str, branch: str) -> list[str]:
    image = "localhost:5000/a-b.c__d/e/x.y-z"
    argv = ["buildx", "build", "--file", "--push", "--target", "prod_compiled",
            "--tag", f"{image}:{sha}"]
    tag, cache = tag_of(branch), "release-.x-y"
    if tag:
        ref = f"type=registry,ref={image}:{tag_of('buildcache-' + tag)}"
        argv += ["--tag", f"{image}:{tag}", "--cache-from", ref, "--cache-to", f"{ref},mode=max"]
    if cache != tag:
        argv += ["--cache-from", f"type=registry,ref={image}:{tag_of('buildcache-' + cache)}"]
    # BuildKit's SBOM and provenance attestations: on every push (publish.sbom's default)
    return [*argv, "--sbom=true", "--provenance=mode=max", "--push", "."]


@pytest.fixture
def script_repo(tmp_path: Path) -> Repo:
    if shutil.which("git") is None:
        oracles.missing("git is not installed")
    return Repo(tmp_path, load(_folder(tmp_path, "descriptor"), SCRIPT_DESCRIPTOR))


def _folder(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir()
    return path


@pytest.mark.parametrize("variable", ["CIRCLE_BRANCH", "GITHUB_REF_NAME"])
def test_build_script_passes_hostile_branch_names_to_docker_inert(
    script_repo: Repo, variable: str
) -> None:
    for branch in BRANCHES:
        result = script_repo.run("-p", **{variable: branch})
        assert result.code == 0, (branch, result)
        # an empty variable counts as unset: the checkout's own branch (main) is used
        assert result.argv == expected_argv(script_repo.sha, branch or "main"), branch
    assert not list(script_repo.root.rglob(f"*{CANARY}*"))
    assert not Path("/tmp", CANARY).exists()


def test_build_script_passes_hostile_options_to_docker_inert(script_repo: Repo) -> None:
    registry, target = f"x;touch {CANARY}", f"$(touch {CANARY})"
    result = script_repo.run("-p", "-r", registry, "-t", target, CIRCLE_BRANCH="main")
    assert result.code == 0, result
    assert result.argv is not None
    # another stage than the published one: its tags carry the stage, made tag-safe
    assert result.argv[4:8] == ["--target", target, "--tag",
                                f"{registry}/x.y-z:{script_repo.sha}-{tag_of(target)}"]
    assert not list(script_repo.root.rglob(f"*{CANARY}*"))


# --- GitHub Actions: `${{` is refused; everything else is read by GitHub as plain text ---

EXPRESSION = "${{ github.event.pull_request.title }}"
FREE_TEXT = tuple(v for v in gen.HOSTILE + gen.YAML_TRICKY if "${{" not in v and v)


def free_text_descriptor(values: tuple[str, ...], targets: list[str],
                         runs: bool = True) -> dict[str, Any]:
    """`values` in every free-text slot a CI file takes: check env, service env, setup steps
    (their names, and their commands unless `runs` is false)."""
    env = {f"V{i}": v for i, v in enumerate(values)}
    setup = [{"name": v, "run": v if runs else "true"} for v in values]
    return {**BASE, "targets": targets,
            "erlang": {"otp": "26.2.5", "checks": ["ct"], "env": env, "setup": {"ct": setup},
                       "services": [{"name": "db", "image": "postgres:16.4", "ports": [5432],
                                     "env": env}]}}


@pytest.mark.parametrize("slot", ["env", "service env", "setup run", "setup name"])
def test_github_refuses_expressions_in_descriptor_values(tmp_path: Path, slot: str) -> None:
    descriptor = free_text_descriptor(("plain",), ["github"])
    erlang = descriptor["erlang"]
    target = {"env": erlang["env"], "service env": erlang["services"][0]["env"],
              "setup run": erlang["setup"]["ct"][0], "setup name": erlang["setup"]["ct"][0]}[slot]
    target[{"setup run": "run", "setup name": "name"}.get(slot, "V0")] = EXPRESSION
    with pytest.raises(DescriptorError, match=r"\$\{\{, which GitHub would"):
        load(tmp_path, descriptor)
    descriptor["targets"] = ["circleci"]  # elsewhere ${{ means nothing and is kept as it is
    assert EXPRESSION in "".join(gen.render(gen.write_project(tmp_path, descriptor))[1].values())


# GitHub's own parser, on a workflow: every job's values, literal ({"s": ...}) or not.
TOKENS_JS = FIXTURES / "injection" / "workflow-tokens.mjs"


def github_tokens(tmp_path: Path, workflow: Path) -> dict[str, Any]:
    if not (oracles.NODE_DIR / "node_modules" / "@actions" / "workflow-parser").is_dir():
        oracles.missing("tests/node has no node_modules; run: npm ci --prefix tests/node")
    proc = oracles.run(oracles.tool("node"), "--import", "./register-json.mjs", TOKENS_JS,
                       oracles.NODE_DIR, workflow.resolve(), cwd=oracles.NODE_DIR)
    parsed: dict[str, Any] = json.loads(proc.stdout)
    assert parsed["errors"] == []
    return parsed


def test_github_reads_every_hostile_value_as_literal_text(tmp_path: Path) -> None:
    descriptor = free_text_descriptor(FREE_TEXT, ["github"])
    project, out = written(tmp_path, descriptor)
    workflow = tmp_path / project.github.workflow_file
    (ct,) = [j for j in github_tokens(tmp_path, workflow)["jobs"] if j["id"] == {"s": "ct"}]
    env = {f"V{i}": {"s": v} for i, v in enumerate(FREE_TEXT)}
    assert {k: v for k, v in ct["env"].items() if k.startswith("V")} == env
    assert ct["services"]["db"]["env"] == env
    setup = [s for s in ct["steps"] if s["id"].startswith("__run")][:len(FREE_TEXT)]
    assert [(s["name"], s["run"]) for s in setup] == [({"s": v}, {"s": v}) for v in FREE_TEXT]


def test_linters_accept_hostile_values_outside_scripts(tmp_path: Path) -> None:
    """(The commands of setup steps are the user's own shell: shellcheck lints them as such.)"""
    project, _ = written(tmp_path, free_text_descriptor(FREE_TEXT, ["github"], runs=False))
    workflow = tmp_path / project.github.workflow_file
    oracles.actionlint(workflow)
    oracles.zizmor(workflow)
    oracles.workflow_parser(workflow)


# --- Cloud Build: every `$` of a descriptor value is escaped, so substitution gives it back ---

_TEMPLATE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substituted(text: str) -> str:
    """Cloud Build's substitution, from its documentation: `$$` is a `$`; `$NAME` and `${NAME}`
    are replaced. No user value may contain the latter: this fails on one."""
    def one(match: re.Match[str]) -> str:
        assert match.group(0) == "$$", f"Cloud Build would substitute {match.group(0)} in {text!r}"
        return "$"

    return _TEMPLATE.sub(one, text)


def test_cloud_build_gets_every_hostile_value_back_after_substitution(tmp_path: Path) -> None:
    values = tuple(v for v in FREE_TEXT if "\x00" not in v)
    descriptor = free_text_descriptor(values, ["cloudbuild"])
    descriptor["cloudbuild"] = {"run_checks": True}
    project, out = written(tmp_path, descriptor)
    steps = load_plain(out[project.cloudbuild.file])["steps"]
    env = {f"V{i}={v}" for i, v in enumerate(values)}
    ct = next(s for s in steps if s.get("id") == "ct")
    assert env <= {substituted(e) for e in ct["env"]}
    runs = [substituted(s["args"][1]) for s in steps if "-setup-" in s.get("id", "")]
    assert runs == list(values)
    started = next(s for s in steps if s.get("id") == "service-db")
    assert {f"--env={e}" for e in env} <= {substituted(a) for a in started["args"]}


HEALTH = f"pg_isready -U 'u'; echo $(touch {CANARY}) `touch {CANARY}` $HOME ${{X:-y}} *"
FAKE_DOCKER = '#!/bin/sh\nprintf "%s\\0" "$@" >> "$ARGV"\n'


def test_cloud_build_runs_a_hostile_health_command_only_inside_the_service(tmp_path: Path) -> None:
    """The readiness step's script, run by bash with a fake docker: the command reaches
    `docker exec db sh -c` as one argument, and nothing of it runs on the build host."""
    descriptor = free_text_descriptor(("x",), ["cloudbuild"])
    descriptor["erlang"]["services"][0]["health"] = HEALTH
    descriptor["cloudbuild"] = {"run_checks": True}
    project, out = written(_folder(tmp_path, "project"), descriptor)
    ready = next(s for s in load_plain(out[project.cloudbuild.file])["steps"]
                 if s.get("id") == "services-ready")
    assert (ready["entrypoint"], ready["args"][0]) == ("bash", "-c")
    fake = _folder(tmp_path, "bin") / "docker"
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "ARGV": str(tmp_path / "argv"), "HOME": "/h"}
    oracles.run("bash", "-c", substituted(ready["args"][1]), env=env, cwd=tmp_path)
    argv = (tmp_path / "argv").read_text().split("\0")[:-1]
    assert argv == ["exec", "db", "sh", "-c", HEALTH]
    assert not list(tmp_path.rglob(f"*{CANARY}*"))


# --- Dockerfile ENV: a real builder reads back exactly the descriptor's values ---


def test_dockerfile_env_keeps_hostile_values_literal(tmp_path: Path) -> None:
    values = {f"V{i}": v for i, v in enumerate(gen.HOSTILE + gen.YAML_TRICKY)
              if not re.search("[\r\n\x00]", v)}
    project, out = written(_folder(tmp_path, "project"), {**BASE, "image": {"env": values}})
    envs = [[c.original for c in dockerfile.parse_string(out[path]) if c.cmd == "ENV"][-1]
            for path in (project.image.dockerfile, project.image.kaniko_dockerfile)]
    assert envs[0] == envs[1]  # the Kaniko variant keeps the instruction as it is
    (tmp_path / "Containerfile").write_text(f"FROM scratch\n{envs[0]}\n", "utf-8")
    _folder(tmp_path, "ctx")
    buildah: list[str | Path] = [oracles.tool("buildah"), "--root", tmp_path / "root",
                                 "--runroot", tmp_path / "runroot", "--storage-driver", "vfs"]
    oracles.run(*buildah, "build", "--isolation", "chroot", "-f", tmp_path / "Containerfile",
                "-t", "localhost/cigen-injection:test", tmp_path / "ctx")
    proc = oracles.run(*buildah, "inspect", "--type", "image", "localhost/cigen-injection:test")
    pairs = [e.split("=", 1) for e in json.loads(proc.stdout)["OCIv1"]["config"]["Env"]]
    assert {k: v for k, v in pairs if k.startswith("V")} == values


@pytest.mark.parametrize("value", ["two\nlines", "cr\rhere", "nul\x00here"])
def test_dockerfile_env_refuses_what_an_env_line_cannot_hold(tmp_path: Path, value: str) -> None:
    with pytest.raises(DescriptorError, match=r"image\.env\.V: contains a (line break|NUL)"):
        load(tmp_path, {**BASE, "image": {"env": {"V": value}}})


# --- the pin client: credentials never follow a redirect to another host ---


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers GET with `answer` (status, Location) and records each request's headers."""

    answer: tuple[int, str | None] = (200, None)
    seen: list[dict[str, str]]

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        status, location = self.answer
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def server(status: int = 200, location: str | None = None) -> Iterator[tuple[str, list[Any]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"answer": (status, location), "seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_pin_client_drops_credentials_on_a_redirect_to_another_host(status: int) -> None:
    from cigen.remote import Client

    with server() as (elsewhere, seen_there), \
            server(status, f"{elsewhere}/blob") as (registry, seen_here):
        reply = Client(retries=0).get(f"{registry}/v2/x/manifests/1",
                                      headers={"Authorization": "Bearer s3cret"})
    assert reply.status == 200
    assert seen_here[0]["authorization"] == "Bearer s3cret"
    assert [h.get("authorization") for h in seen_there] == [None]


def test_pin_client_refuses_a_redirect_to_plain_http_elsewhere() -> None:
    from cigen.errors import RemoteError
    from cigen.remote import Client

    with server(302, "http://registry.example.invalid/blob") as (registry, _), \
            pytest.raises(RemoteError, match="only https leaves this machine"):
        Client(retries=0).get(f"{registry}/v2/", headers={"Authorization": "Bearer s3cret"})
