from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cigen.errors import DescriptorError
from cigen.model import Project
from cigen.targets import github
from cigen.targets.github.jobs import check_groups
from cigen.targets.github.pins import annotate, line_of, pins, uses
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import FIXTURES, PROJECTS
from tests.helpers import load_project

AUTH_REGISTRY = {
    "ghcr": "ghcr.io/acme",
    "gcp": "us-docker.pkg.dev/acme/images",
    "docker-login": "docker.io/acme",
}
CACHES = ("gha", "registry", "inline")
SHA = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[0-9a-f]{40}$")


def descriptor(**github: object) -> str:
    """A descriptor with a release-named publishing branch (zizmor treats it as a release)."""
    auth = str(github.get("auth", "ghcr"))
    lines = [
        "version: 1", "name: hello", f"registry: {AUTH_REGISTRY[auth]}",
        "erlang:", '  otp: "26.2.5"', "  checks: [xref, dialyzer, eunit, ct, cover]",
        "  env: {ERL_FLAGS: '+S 2'}",
        "publish:", "  branches: [main, release/2.x]", "  after: [ct, xref]",
        *(["github:"] if github else []),
        *(f"  {key}: {json.dumps(value)}" for key, value in github.items()),
    ]
    return "\n".join(lines) + "\n"


def load(tmp_path: Path, text: str) -> Project:
    path = tmp_path / "cigen.yaml"
    path.write_text(text)
    return load_project(path, ("github",))


def render_text(project: Project) -> str:
    text = github.render(project)
    return text


def fixture(name: str) -> Project:
    return load_project(FIXTURES / name / "cigen.yaml", ("github",))


def fixture_workflow(name: str) -> Path:
    project = fixture(name)
    return FIXTURES / name / project.github.workflow_file


@pytest.fixture(scope="module")
def combos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Workflows rendered now: each fixture project's, every github.auth x github.cache choice,
    and unpinned actions. Named after their project or their settings."""
    root = tmp_path_factory.mktemp("combos")
    out = {name: root / f"{name}.yml" for name in PROJECTS}
    for name in PROJECTS:
        out[name].write_text(render_text(fixture(name)))
    settings = [{"auth": a, "cache": c} for a in AUTH_REGISTRY for c in CACHES]
    settings.append({"auth": "gcp", "cache": "inline", "pin_actions": False})
    for i, options in enumerate(settings):
        work = root / f"d{i}"
        work.mkdir()
        name = "-".join(str(v) for v in options.values())
        out[name] = root / f"{name}.yml"
        out[name].write_text(render_text(load(work, descriptor(**options))))
    return out


def all_workflows(combos: dict[str, Path]) -> list[Path]:
    """The committed fixture workflows (equal to their rendering, see below) and the rest."""
    return [*map(fixture_workflow, PROJECTS), *(p for n, p in combos.items() if n not in PROJECTS)]


def settings_of(combos: dict[str, Path]) -> dict[str, Path]:
    return {name: path for name, path in combos.items() if name not in PROJECTS}


# --- the independent oracles, on every fixture's committed workflow and every combination ---


def test_fixture_workflows_are_current() -> None:
    for name in PROJECTS:
        project = fixture(name)
        assert fixture_workflow(name).read_text() == render_text(project), name


def zizmor(*paths: Path) -> None:
    # oracles.zizmor passes GH_TOKEN="" which zizmor 1.32 rejects (exit 2, "GitHub token cannot
    # be empty"); with no token in the environment at all it stays offline the same way.
    with pytest.MonkeyPatch.context() as env:
        env.delenv("GH_TOKEN", raising=False)
        env.delenv("GITHUB_TOKEN", raising=False)
        oracles.run(oracles.tool("zizmor"), "--offline", "--no-progress", *paths)


@pytest.mark.parametrize("oracle", [
    lambda *p: oracles.check_jsonschema("vendor.github-workflows", *p),
    oracles.actionlint,
    zizmor,
    oracles.workflow_parser,
], ids=["check-jsonschema", "actionlint", "zizmor", "workflow-parser"])
def test_oracles_accept_every_workflow(oracle: Any, combos: dict[str, Path]) -> None:
    oracle(*all_workflows(combos))


def test_every_zizmor_suppression_says_why(combos: dict[str, Path]) -> None:
    for path in all_workflows(combos):
        for line in path.read_text().splitlines():
            if "zizmor:" in line:
                assert re.search(r"# zizmor: ignore\[[a-z-]+\] -- \S.{10,}$", line), line


# --- properties of the parsed workflow ---


def parsed(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = load_plain(path.read_text())
    return data


def test_on_key_stays_a_string(combos: dict[str, Path]) -> None:
    for path in all_workflows(combos):
        assert re.search(r"^on:$", path.read_text(), re.M), "written plain, as GitHub spells it"
        keys = parsed(path).keys()
        assert "on" in keys, "read back as the string"
        assert True not in keys


def test_triggers_are_publish_branches_tags_and_pull_requests(combos: dict[str, Path]) -> None:
    for name in PROJECTS:
        on = parsed(combos[name])["on"]
        branches = list(fixture(name).publish.branches) or ["**"]
        assert on == {"push": {"branches": branches, "tags": ["v*"]}, "pull_request": None}


def test_every_action_is_pinned_to_its_shipped_sha(combos: dict[str, Path]) -> None:
    shipped = pins()
    pinned = [p for name, p in combos.items() if not name.endswith("False")]
    for path in pinned:
        for line in path.read_text().splitlines():
            if "uses:" not in line:
                continue
            value, comment = line.split("uses: ", 1)[1].split(" # ")
            repo, sha = value.split("@")
            assert SHA.match(value), line
            assert shipped[repo].sha == sha, line
            assert comment == shipped[repo].tag


def test_unpinned_actions_use_major_tags(combos: dict[str, Path]) -> None:
    steps = [s for job in parsed(combos["gcp-inline-False"])["jobs"].values() for s in job["steps"]]
    refs = {s["uses"] for s in steps if "uses" in s}
    assert refs
    assert all(re.match(r"^[\w-]+/[\w-]+@v\d+$", ref) for ref in refs)


def test_no_expression_inside_run(combos: dict[str, Path]) -> None:
    for path in all_workflows(combos):
        for job in parsed(path)["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), step


def test_permissions_are_least_privilege(combos: dict[str, Path]) -> None:
    extra = {"ghcr": {"packages": "write"}, "gcp": {"id-token": "write"}, "docker-login": {}}
    for name, path in settings_of(combos).items():
        auth = next(a for a in AUTH_REGISTRY if name.startswith(a))
        data = parsed(path)
        assert data["permissions"] == {}
        for job_id, job in data["jobs"].items():
            grants = {"contents": "read", **(extra[auth] if job_id == "image" else {})}
            assert job["permissions"] == grants, (name, job_id)


def test_checkout_keeps_no_credentials_and_jobs_time_out(combos: dict[str, Path]) -> None:
    for path in all_workflows(combos):
        for job in parsed(path)["jobs"].values():
            assert isinstance(job["timeout-minutes"], int)
            checkouts = [s for s in job["steps"] if "actions/checkout@" in s.get("uses", "")]
            assert len(checkouts) == 1
            assert checkouts[0]["with"]["persist-credentials"] is False


def run_commands(job: dict[str, Any]) -> list[str]:
    """The rebar3 commands of a job (not its erlang.setup steps)."""
    return [step["run"] for step in job["steps"] if step.get("run", "").startswith("rebar3 ")]


@pytest.mark.parametrize("name", PROJECTS)
def test_image_job_needs_the_jobs_that_run_publish_after(
    name: str, combos: dict[str, Path]
) -> None:
    project, jobs = fixture(name), parsed(combos[name])["jobs"]
    needed = [cmd for job in jobs["image"]["needs"] for cmd in run_commands(jobs[job])]
    for check in project.publish.after:
        assert any(cmd.split()[:2] == ["rebar3", check] for cmd in needed), check
    ran = [cmd.split()[1] for job in jobs.values() for cmd in run_commands(job)]
    assert sorted(ran) == sorted(project.erlang.checks), "every check runs, once"


def test_setup_beam_versions_are_quoted_and_strict(combos: dict[str, Path]) -> None:
    text = combos["debian_ghcr"].read_text()
    assert "otp-version: '26.2.5'" in text
    assert "rebar3-version: '3.22.1'" in text
    for job in parsed(combos["debian_ghcr"])["jobs"].values():
        beam = [s for s in job["steps"] if "erlef/setup-beam@" in s.get("uses", "")]
        assert not beam or beam[0]["with"]["version-type"] == "strict"


def test_cache_keys_are_per_job_and_restore_keys_are_their_prefix(combos: dict[str, Path]) -> None:
    for path in all_workflows(combos):
        keys = []
        for job in parsed(path)["jobs"].values():
            for step in (s for s in job["steps"] if s.get("name") == "Cache _build and "
                         "~/.cache/rebar3"):
                assert "actions/cache@" in step["uses"]
                key, restore = step["with"]["key"], step["with"]["restore-keys"]
                assert key.startswith(restore)
                assert key.endswith("${{ hashFiles('rebar.lock') }}")
                assert "otp-" in key
                assert step["with"]["path"] == "_build\n~/.cache/rebar3\n"
                keys.append(key)
        assert len(keys) == len(set(keys)) >= 1


def test_coverage_checks_share_the_job_that_reports_them(combos: dict[str, Path]) -> None:
    assert check_groups(("xref", "eunit", "ct", "cover")) == {
        "xref": ("xref",), "ct": ("eunit", "ct", "cover")}
    assert check_groups(("cover", "eunit")) == {"eunit": ("cover", "eunit")}
    assert check_groups(("eunit", "ct")) == {"eunit": ("eunit",), "ct": ("ct",)}
    jobs = parsed(combos["debian_ghcr"])["jobs"]
    assert run_commands(jobs["ct"]) == [
        "rebar3 eunit --cover", "rebar3 ct --cover", "rebar3 cover --verbose"]


def test_check_jobs_get_erlang_env(combos: dict[str, Path]) -> None:
    jobs = parsed(combos["service_discovery"])["jobs"]
    assert all(jobs[j]["env"] == {"ERL_FLAGS": "+S 2"} for j in ("xref", "dialyzer"))
    # The ct job runs with the Postgres service (tests/test_services.py) and learns its host.
    assert jobs["ct"]["env"] == {"ERL_FLAGS": "+S 2", "POSTGRES_HOST": "localhost"}
    assert "ERL_FLAGS" not in jobs["image"].get("env", {})


# --- expressions, evaluated by GitHub's own evaluator (@actions/expressions) ---

_EVAL = """
import { Parser, Lexer, Evaluator, data } from "@actions/expressions";
import { truthy } from "@actions/expressions/result";
const out = JSON.parse(process.argv[1]).map(([expr, ctx]) => {
  const tree = new Parser(new Lexer(expr).lex().tokens, Object.keys(ctx), []).parse();
  const value = new Evaluator(tree, JSON.parse(JSON.stringify(ctx), data.reviver)).evaluate();
  return [truthy(value), value.coerceString()];
});
console.log(JSON.stringify(out));
"""


_RESULTS: dict[str, tuple[bool, str]] = {}  # the same expressions recur in every workflow


def evaluate(cases: list[tuple[str, dict[str, Any]]]) -> list[tuple[bool, str]]:
    """(truthy, string value) of each (expression, contexts) case; one node run for new ones."""
    keys = [json.dumps(case, sort_keys=True) for case in cases]
    todo = [key for key in dict.fromkeys(keys) if key not in _RESULTS]
    if todo:
        if not (oracles.NODE_DIR / "node_modules" / "@actions" / "expressions").is_dir():
            oracles.missing("tests/node has no node_modules; run: npm ci --prefix tests/node")
        proc = oracles.run(oracles.tool("node"), "--input-type=module", "-e", _EVAL,
                           f"[{','.join(todo)}]", cwd=oracles.NODE_DIR)
        for key, (truth, value) in zip(todo, json.loads(proc.stdout), strict=True):
            _RESULTS[key] = (truth, value)
    return [_RESULTS[key] for key in keys]


def bare(value: str) -> str:
    match = re.fullmatch(r"\$\{\{(.*)\}\}", value.strip(), re.S)
    return match.group(1).strip() if match else value


def event(name: str, ref: str) -> dict[str, Any]:
    kind = "tag" if ref.startswith("refs/tags/") else "branch"
    return {"event_name": name, "ref": ref, "ref_type": kind, "actor": "someone"}


PUSH_MAIN = event("push", "refs/heads/main")
PUSH_RELEASE = event("push", "refs/heads/release/2.x")
PUSH_FEATURE = event("push", "refs/heads/feature/x")
PUSH_TAG = event("push", "refs/tags/v1.2.3")
PUSH_OTHER_TAG = event("push", "refs/tags/nightly")
FORK_PR = event("pull_request", "refs/pull/7/merge")
EVENTS = [PUSH_MAIN, PUSH_RELEASE, PUSH_FEATURE, PUSH_TAG, PUSH_OTHER_TAG, FORK_PR]


def image_contexts(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Per event, the contexts a step of the image job sees (its env evaluated first)."""
    env = evaluate([(bare(job["env"]["PUBLISH"]), {"github": e}) for e in EVENTS])
    return [{"github": e, "env": {"PUBLISH": s}} for e, (_, s) in zip(EVENTS, env, strict=True)]


def step_named(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("name", "").startswith(prefix)]
    return step


@pytest.mark.parametrize(("name", "publishing"), [
    ("debian_ghcr", [True, True, False, True, False, False]),
    ("minimal", [True, False, False, True, False, False]),
    ("service_discovery", [True, True, True, True, False, False]),  # every branch publishes
])
def test_image_pushes_only_from_publishing_refs(
    name: str, publishing: list[bool], combos: dict[str, Path]
) -> None:
    job = parsed(combos[name])["jobs"]["image"]
    contexts = image_contexts(job)
    push = bare(step_named(job, "Build and push")["with"]["push"])
    assert [t for t, _ in evaluate([(push, c) for c in contexts])] == publishing


def secret_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps that read a secret or mint a cloud credential."""
    return [s for s in job["steps"] if "secrets." in json.dumps(s)
            or "google-github-actions/auth@" in s.get("uses", "")]


def test_a_fork_pull_request_gets_no_secret_and_no_login(combos: dict[str, Path]) -> None:
    for name, path in combos.items():
        data = parsed(path)
        for job_id, job in data["jobs"].items():
            assert "secrets." not in json.dumps({k: v for k, v in job.items() if k != "steps"})
            logins = [s for s in job["steps"] if "login-action@" in s.get("uses", "")]
            steps = secret_steps(job) + logins
            assert job_id == "image" or not steps, (name, job_id)
            if not steps:
                continue
            assert all("if" in s for s in steps), name
            contexts = image_contexts(job)
            results = evaluate([(bare(s["if"]), c) for s in steps for c in contexts])
            by_event = [results[i::len(EVENTS)] for i in range(len(EVENTS))]
            assert not any(t for t, _ in by_event[EVENTS.index(FORK_PR)]), name
            assert all(t for t, _ in by_event[EVENTS.index(PUSH_MAIN)]), name
        assert "pull_request_target" not in data["on"]
        assert "workflow_run" not in data["on"]


def test_releases_restore_no_cache_and_prs_write_no_registry_cache(combos: dict[str, Path]) -> None:
    for name, path in settings_of(combos).items():
        jobs = parsed(path)["jobs"]
        build = step_named(jobs["image"], "Build and push")["with"]
        contexts = image_contexts(jobs["image"])
        lookups = [s["with"]["lookup-only"] for j in jobs.values() for s in j["steps"]
                   if "actions/cache@" in s.get("uses", "")]
        exprs = [bare(build["no-cache"]), *map(bare, lookups)]
        for expr in exprs:
            found = [t for t, _ in evaluate([(expr, c) for c in contexts])]
            assert found == [e["ref_type"] == "tag" for e in EVENTS], (name, expr)
        if "-registry" in name:  # only runs that logged in may write the cache image
            written = evaluate([(bare(build["cache-to"]), c) for c in contexts])
            assert written[EVENTS.index(FORK_PR)][1] == ""
            assert written[0][1].endswith("mode=max")


@pytest.mark.parametrize(("cache", "sources", "sink"), [
    ("gha", ["type=gha"], "type=gha,mode=max"),
    ("registry", ["type=registry,ref=ghcr.io/acme/hello:buildcache"],
     "type=registry,ref=ghcr.io/acme/hello:buildcache,mode=max"),
    ("inline", ["type=registry,ref=ghcr.io/acme/hello:${{ steps.meta.outputs.version }}",
                "type=registry,ref=ghcr.io/acme/hello:main"], "type=inline"),
])
def test_cache_backends(cache: str, sources: list[str], sink: str, combos: dict[str, Path]) -> None:
    build = step_named(parsed(combos[f"ghcr-{cache}"])["jobs"]["image"], "Build and push")["with"]
    assert build["cache-from"].splitlines() == sources
    assert sink in build["cache-to"]
    assert {k: build[k] for k in ("context", "file", "target")} == {
        "context": ".", "file": "Dockerfile", "target": "runner"}


def test_inline_cache_reads_the_cache_from_branch_with_a_tag_safe_name(tmp_path: Path) -> None:
    text = descriptor(cache="inline").replace("after: [ct, xref]", "cache_from: release/2.x")
    build = step_named(parsed_text(render_text(load(tmp_path, text)))["jobs"]["image"], "Build")
    sources = build["with"]["cache-from"].splitlines()
    assert sources[1] == "type=registry,ref=ghcr.io/acme/hello:release-2.x"


def parsed_text(text: str) -> dict[str, Any]:
    data: dict[str, Any] = load_plain(text)
    return data


def test_gcp_uses_workload_identity_and_no_key_file(combos: dict[str, Path]) -> None:
    job = parsed(combos["gcp-gha"])["jobs"]["image"]
    auth = step_named(job, "Authenticate")["with"]
    assert auth == {
        "workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
        "service_account": "${{ vars.GCP_SERVICE_ACCOUNT }}",
        "token_format": "access_token", "create_credentials_file": False}
    login = step_named(job, "Log in")["with"]
    assert login == {"registry": "us-docker.pkg.dev", "username": "oauth2accesstoken",
                     "password": "${{ steps.gcp.outputs.access_token }}"}


def test_metadata_tags_sha_branch_and_version(combos: dict[str, Path]) -> None:
    meta = step_named(parsed(combos["docker-login-gha"])["jobs"]["image"], "Image tags")["with"]
    assert meta["images"] == "docker.io/acme/hello"
    assert meta["tags"].splitlines() == [
        "type=sha,format=long,prefix=", "type=ref,event=branch", "type=semver,pattern={{version}}"]


def test_pull_requests_cancel_superseded_runs_and_publishing_runs_finish(
    combos: dict[str, Path]
) -> None:
    concurrency = parsed(combos["minimal"])["concurrency"]
    results = evaluate([(bare(concurrency["cancel-in-progress"]), {"github": e}) for e in EVENTS])
    assert [t for t, _ in results] == [e is FORK_PR for e in EVENTS]
    assert concurrency["group"] == "${{ github.workflow }}-${{ github.ref }}"


# --- units and descriptor problems ---


def test_annotate_matches_whole_entries_only() -> None:
    text = "a:\n  - uses: x@1\n    uses: x@1\n  b: uses: x@1\nuses: x@12\n"
    got = annotate(text, {"uses: x@1": "v1"})
    assert got == "a:\n  - uses: x@1 # v1\n    uses: x@1 # v1\n  b: uses: x@1\nuses: x@12\n"
    script = "- run: |\n    uses: x@1\n\n    uses: x@1\n  uses: x@1\n"
    assert annotate(script, {"uses: x@1": "v1"}) == script[:-1] + " # v1\n"
    assert line_of("k", "${{ a }}") == "k: ${{ a }}"
    assert line_of("on", "yes") == "on: 'yes'"


def test_unknown_action_is_an_error_not_a_guess() -> None:
    from cigen.errors import RenderError

    with pytest.raises(RenderError, match="no pin for action acme/nope"):
        uses("acme/nope", True)


MINIMAL = "version: 1\nname: hello\nerlang: {otp: '26.2.5'}\n"


@pytest.mark.parametrize(("text", "message"), [
    ("registry: docker.io/acme\ngithub: {auth: ghcr}\n", "github.auth: ghcr logs in to ghcr.io"),
    ("registry: ghcr.io/acme\ngithub: {auth: gcp}\n",
     "github.auth: gcp logs in to gcr.io or Artifact Registry, not ghcr.io"),
    ("registry: ghcr.io/acme\ngithub: {workflow_file: ci/build.yml}\n",
     "github.workflow_file: GitHub runs only .github/workflows/<name>.yml or .yaml files"),
    ("registry: ghcr.io/acme\nerlang: {otp: '26.2.5', checks: [xref, cover]}\n"
     "publish: {after: [xref]}\n", "erlang.checks[1]: cover reports the coverage of eunit or ct"),
    ("registry: ghcr.io/acme\n"
     "erlang: {otp: '26.2.5', services: [{name: db, image: postgres:16}]}\n",
     "erlang.services[0]: has no ports: GitHub Actions runs the checks on the runner"),
])
def test_problems_point_at_the_key(tmp_path: Path, text: str, message: str) -> None:
    if text.count("erlang:"):
        text = "version: 1\nname: hello\n" + text
    else:
        text = MINIMAL + text
    with pytest.raises(DescriptorError) as err:
        load(tmp_path, text)
    assert re.search(r"cigen\.yaml:\d+:\d+: " + re.escape(message), str(err.value)), str(err.value)


def test_render_and_check_github_through_the_cli(run_line: Any, tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(descriptor())
    assert run_line("cigen render github", cwd=tmp_path).code == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [".github/workflows/ci.yml", "cigen.yaml"]
    assert run_line("cigen check github", cwd=tmp_path).code == 0
    (tmp_path / ".github/workflows/ci.yml").write_text(descriptor().replace("main", "x"))
    assert run_line("cigen check github", cwd=tmp_path).code == 1
