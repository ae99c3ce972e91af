from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cigen.action_pins import shipped as pins
from cigen.errors import DescriptorError
from cigen.model import GitHub, Project
from cigen.targets import github
from cigen.targets.checks import groups as check_groups
from cigen.targets.github.pins import annotate, line_of, uses
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import FIXTURES, IMAGE_PROJECTS, PROJECTS
from tests.helpers import load_project

AUTH_REGISTRY = {
    "ghcr": "ghcr.io/acme",
    "gcp": "us-docker.pkg.dev/acme/images",
    "docker-login": "docker.io/acme",
}
CACHES = ("gha", "registry", "inline")
ENVIRONMENT = "images"  # github.environment of the combinations that publish from one
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
    # a publish job under a GitHub environment, for each login, with each cache among them
    settings += [{"auth": a, "cache": c, "environment": ENVIRONMENT}
                 for a, c in zip(AUTH_REGISTRY, ("inline", "gha", "registry"), strict=True)]
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


# docker-login's secrets: without github.environment zizmor's auditor persona reports them
# (secrets-outside-env: a job that reads secrets names no GitHub environment).
REGISTRY_SECRETS = ("secrets.REGISTRY_USERNAME", "secrets.REGISTRY_PASSWORD")


def auditor_findings(*paths: Path) -> list[tuple[str, str, str]]:
    """(file, audit, the flagged text) of each finding of zizmor's auditor persona."""
    proc = oracles.run(oracles.tool("zizmor"), "--offline", "--no-progress", "--persona",
                       "auditor", "--format", "json", *paths, ok=(0, 11, 12, 13, 14),
                       unset=("GH_TOKEN", "GITHUB_TOKEN"))
    return [(where["symbolic"]["key"]["Local"]["verbatim_path"], finding["ident"],
             where["concrete"]["feature"])
            for finding in json.loads(proc.stdout) for where in finding["locations"]
            if where["symbolic"]["kind"] == "Primary"]


@pytest.mark.parametrize("oracle", [
    lambda *p: oracles.check_jsonschema("vendor.github-workflows", *p),
    oracles.actionlint,
    zizmor,
    oracles.workflow_parser,
], ids=["check-jsonschema", "actionlint", "zizmor", "workflow-parser"])
def test_oracles_accept_every_workflow(oracle: Any, combos: dict[str, Path]) -> None:
    oracle(*all_workflows(combos))


def test_zizmor_auditor_finds_nothing_in_any_fixture() -> None:
    # not vacuous: e2e logs in with docker-login's secrets, from its environment
    assert "secrets.REGISTRY_PASSWORD" in fixture_workflow("e2e").read_text()
    assert fixture("e2e").github.environment == "registry"
    assert auditor_findings(*map(fixture_workflow, PROJECTS)) == []


def test_zizmor_auditor_finds_registry_secrets_only_outside_an_environment(
    combos: dict[str, Path]
) -> None:
    """Every combination is clean for the auditor persona but docker-login without
    github.environment, whose two repository secrets it reports (docs/targets.md)."""
    settings = settings_of(combos)
    found = auditor_findings(*settings.values())
    outside = [path for name, path in settings.items()
               if name.startswith("docker-login") and ENVIRONMENT not in name]
    assert len(outside) == len(CACHES)
    assert sorted(found) == sorted((str(path), "secrets-outside-env", secret)
                                   for path in outside for secret in REGISTRY_SECRETS)


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
    for name in IMAGE_PROJECTS:  # a library's: tests/targets/test_library.py
        on = parsed(combos[name])["on"]
        branches = list(fixture(name).publish.branches) or ["**"]
        assert on == {"push": {"branches": branches, "tags": ["v*"]}, "pull_request": None}


def with_tags(tmp_path: Path, tags: list[str], **github: object) -> dict[str, Any]:
    text = descriptor(**github).replace("  after:", f"  tags: {json.dumps(tags)}\n  after:")
    return parsed_text(render_text(load(tmp_path, text)))


def test_publish_tags_are_the_tags_that_trigger(tmp_path: Path) -> None:
    data = with_tags(tmp_path, ["v*", "release-*", "1.0", "*"])
    assert data["on"]["push"] == {"branches": ["main", "release/2.x"],
                                  "tags": ["v*", "release-*", "1.0", "*"]}
    # No tags: `branches` alone, and GitHub then runs the workflow for no tag push.
    assert with_tags(tmp_path, [])["on"] == {
        "push": {"branches": ["main", "release/2.x"]}, "pull_request": None}


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


def pusher(jobs: dict[str, Any]) -> str:
    """The job that logs in and pushes: publish with github.environment, else the image job."""
    return "publish" if "publish" in jobs else "image"


def test_permissions_are_least_privilege(combos: dict[str, Path]) -> None:
    extra = {"ghcr": {"packages": "write"}, "gcp": {"id-token": "write"}, "docker-login": {}}
    for name, path in settings_of(combos).items():
        auth = next(a for a in AUTH_REGISTRY if name.startswith(a))
        data = parsed(path)
        assert data["permissions"] == {}
        for job_id, job in data["jobs"].items():
            grants = {"contents": "read", **(extra[auth] if job_id == pusher(data["jobs"]) else {})}
            assert job["permissions"] == grants, (name, job_id)


def test_checkout_keeps_no_credentials_and_jobs_time_out(combos: dict[str, Path]) -> None:
    for path in all_workflows(combos):
        for job in parsed(path)["jobs"].values():
            assert isinstance(job["timeout-minutes"], int)
            checkouts = [s for s in job["steps"] if "actions/checkout@" in s.get("uses", "")]
            # a multi-platform image's manifest list job reads no file of the repository
            merges = any("imagetools create" in s.get("run", "") for s in job["steps"])
            assert len(checkouts) == (0 if merges else 1)
            assert all(c["with"]["persist-credentials"] is False for c in checkouts)


def run_commands(job: dict[str, Any]) -> list[str]:
    """The rebar3 commands of a job (not its erlang.setup steps)."""
    return [step["run"] for step in job["steps"] if step.get("run", "").startswith("rebar3 ")]


@pytest.mark.parametrize("name", IMAGE_PROJECTS)
def test_image_job_needs_the_jobs_that_run_publish_after(
    name: str, combos: dict[str, Path]
) -> None:
    project, jobs = fixture(name), parsed(combos[name])["jobs"]
    # a multi-platform image's list job needs its platform jobs, which need the checks
    waits = [job for need in jobs["image"]["needs"]
             for job in (jobs[need]["needs"] if need.startswith("image-") else [need])]
    needed = [cmd for job in waits for cmd in run_commands(jobs[job])]
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
                # the fixtures have a rebar.lock; the other combinations' folders none
                lock = path in map(fixture_workflow, PROJECTS)
                key, restore = step["with"]["key"], step["with"].get("restore-keys")
                if lock:
                    assert key == restore + "${{ hashFiles('rebar.lock') }}"
                else:  # no hash of a file that is not there, and no restore key equal to it
                    assert restore is None
                    assert "rebar.lock" not in key
                assert "otp-" in key
                assert step["with"]["path"] == "_build\n~/.cache/rebar3\n"
                keys.append(key)
        assert len(keys) == len(set(keys)) >= 1


def test_coverage_checks_share_the_job_that_reports_them(combos: dict[str, Path]) -> None:
    assert check_groups(("xref", "eunit", "ct", "cover")) == {
        "xref": ("xref",), "ct": ("eunit", "ct", "cover")}
    assert check_groups(("cover", "eunit")) == {"eunit": ("eunit", "cover")}  # cover last
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


def test_secrets_reach_only_the_steps_that_run_the_project(tmp_path: Path) -> None:
    text = descriptor().replace("  env: {ERL_FLAGS: '+S 2'}", "  env: {ERL_FLAGS: '+S 2', "
                                "HEX_API_KEY: {secret: HEX_API_KEY}}\n  setup:\n"
                                "    ct: [{name: Seed, run: echo seed}]")
    jobs = parsed_text(render_text(load(tmp_path, text)))["jobs"]
    secret = {"HEX_API_KEY": "${{ secrets.HEX_API_KEY }}"}
    for job_id, job in jobs.items():
        if job_id == "image":
            continue
        assert job["env"] == {"ERL_FLAGS": "+S 2"}, "plain values stay job-wide"
        for step in job["steps"]:
            if step.get("run", "").startswith("rebar3 ") or step.get("name") == "Seed":
                assert step["env"] == secret, (job_id, step)
            else:  # checkout, setup-beam, the caches
                assert "secrets." not in json.dumps(step), (job_id, step)
    assert [s.get("name") or s["run"] for s in jobs["ct"]["steps"] if "env" in s] == [
        "rebar3 eunit --cover", "Seed", "rebar3 ct --cover", "rebar3 cover --verbose"]


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
    """Per event, the contexts a step of an image job sees (its env evaluated first)."""
    if "PUBLISH" not in job.get("env", {}):  # a job of github.environment: no PUBLISH
        return [{"github": e} for e in EVENTS]
    env = evaluate([(bare(job["env"]["PUBLISH"]), {"github": e}) for e in EVENTS])
    return [{"github": e, "env": {"PUBLISH": s}} for e, (_, s) in zip(EVENTS, env, strict=True)]


def runs_on(job: dict[str, Any]) -> list[bool]:
    """Per event, whether the job runs at all (its `if`)."""
    if "if" not in job:
        return [True] * len(EVENTS)
    return [t for t, _ in evaluate([(bare(job["if"]), {"github": e}) for e in EVENTS])]


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


@pytest.mark.parametrize(("tags", "published"), [
    (["v*"], ["v1.4.2", "vnext"]),
    (["release-*", "1.0"], ["release-7", "release-", "1.0"]),
    (["*"], ["v1.4.2", "vnext", "release-7", "release-", "1.0", "1.0.1", "nightly"]),
    ([], []),
])
def test_pushes_of_publish_tags_publish(
    tmp_path: Path, tags: list[str], published: list[str]
) -> None:
    job = with_tags(tmp_path, tags)["jobs"]["image"]
    pushed = ["v1.4.2", "vnext", "release-7", "release-", "1.0", "1.0.1", "nightly"]
    cases = [(bare(job["env"]["PUBLISH"]), {"github": event("push", f"refs/tags/{tag}")})
             for tag in pushed]
    assert [tag for tag, (t, _) in zip(pushed, evaluate(cases), strict=True) if t] == published
    assert evaluate([(bare(job["env"]["PUBLISH"]), {"github": PUSH_MAIN})]) == [(True, "true")]


def test_an_environment_puts_publishing_in_a_job_of_its_own(combos: dict[str, Path]) -> None:
    """github.environment: `publish` references it and runs exactly on the runs the one image job
    would push from; `image` builds on every other run, with no login, secret or environment."""
    split = {name: path for name, path in settings_of(combos).items() if ENVIRONMENT in name}
    assert len(split) == len(AUTH_REGISTRY)
    for name, path in split.items():
        jobs = parsed(path)["jobs"]
        one = parsed(combos[name.removesuffix(f"-{ENVIRONMENT}")])["jobs"]
        image, publish = jobs["image"], jobs["publish"]
        assert list(jobs) == [*list(one), "publish"], name
        assert publish["environment"] == ENVIRONMENT, name
        assert [j for j, job in jobs.items() if "environment" in job] == ["publish"], name
        assert image["needs"] == publish["needs"] == one["image"]["needs"], name
        # The one image job's own definition of a publishing run, and its exact complement.
        assert bare(publish["if"]) == bare(one["image"]["env"]["PUBLISH"]), name
        assert runs_on(publish) == [True, True, False, True, False, False], name
        assert runs_on(image) == [not runs for runs in runs_on(publish)], name
        # image: builds only; nothing in it can log in or read a secret
        assert "env" not in image, name
        assert image["permissions"] == {"contents": "read"}, name
        assert step_named(image, "Build")["with"]["push"] is False, name
        assert not secret_steps(image), name
        assert not [s for s in image["steps"] if "login-action@" in s.get("uses", "")], name
        # publish: logs in and pushes on every run it has (its `if` is the condition)
        assert step_named(publish, "Build and push")["with"]["push"] is True, name
        assert [s for s in publish["steps"] if "login-action@" in s.get("uses", "")], name
        assert not [s for s in publish["steps"] if "if" in s], name
        for job_id, job in jobs.items():
            assert job_id == "publish" or "secrets." not in json.dumps(job), (name, job_id)


def test_check_job_secrets_stay_repository_secrets_with_an_environment(tmp_path: Path) -> None:
    """{secret: NAME} values of erlang.env reach the check jobs, which run on pull requests and
    so reference no environment: the auditor persona reports them, and nothing else."""
    text = descriptor(auth="docker-login", environment=ENVIRONMENT).replace(
        "  env: {ERL_FLAGS: '+S 2'}",
        "  env: {ERL_FLAGS: '+S 2', HEX_API_KEY: {secret: HEX_API_KEY}}")
    path = tmp_path / "ci.yml"
    path.write_text(render_text(load(tmp_path, text)))
    jobs = parsed(path)["jobs"]
    readers = {j for j, job in jobs.items() if "secrets.HEX_API_KEY" in json.dumps(job)}
    assert readers == set(jobs) - {"image", "publish"}
    found = auditor_findings(path)
    assert {(audit, secret) for _, audit, secret in found} == {
        ("secrets-outside-env", "secrets.HEX_API_KEY")}


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
            # the pusher, or one platform's build of it (image-<arch>, publish-<arch>)
            assert job_id.split("-")[0] == pusher(data["jobs"]) or not steps, (name, job_id)
            if not steps:
                continue
            # A step runs when its job does (the job's `if`) and its own `if` holds.
            job_runs, contexts = runs_on(job), image_contexts(job)
            for step in steps:
                own = (evaluate([(bare(step["if"]), c) for c in contexts]) if "if" in step
                       else [(True, "")] * len(EVENTS))
                ran = [j and t for j, (t, _) in zip(job_runs, own, strict=True)]
                assert not ran[EVENTS.index(FORK_PR)], (name, step)
                assert ran[EVENTS.index(PUSH_MAIN)], (name, step)
        assert "pull_request_target" not in data["on"]
        assert "workflow_run" not in data["on"]


def with_meta(contexts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the metadata step's `version` output (a branch's tag) to the contexts."""
    return [{**c, "steps": {"meta": {"outputs": {"version": "main"}}}} for c in contexts]


def cache_lines(build: dict[str, Any], key: str, contexts: list[dict[str, Any]]) -> list[str]:
    """Per context, what build-push-action passes on as `key`: each line, evaluated."""
    if key not in build:
        return [""] * len(contexts)
    lines = [bare(line) for line in build[key].splitlines()]
    values = evaluate([(line, c) for c in contexts for line in lines])
    return ["\n".join(v for _, v in values[i:i + len(lines)] if v)
            for i in range(0, len(values), len(lines))]


def test_releases_use_no_cache_and_prs_write_no_registry_cache(combos: dict[str, Path]) -> None:
    tags = [e["ref_type"] == "tag" for e in EVENTS]
    for name, path in settings_of(combos).items():
        jobs = parsed(path)["jobs"]
        lookups = [s["with"]["lookup-only"] for j in jobs.values() for s in j["steps"]
                   if "actions/cache@" in s.get("uses", "")]
        for expr in map(bare, lookups):
            found = [t for t, _ in evaluate([(expr, {"github": e}) for e in EVENTS])]
            assert found == tags, (name, expr)
        # Per event, the cache-to of the one image job that runs (two with github.environment,
        # on complementary conditions).
        written_on: list[str | None] = [None] * len(EVENTS)
        for job in (jobs[j] for j in ("image", "publish") if j in jobs):
            build = step_named(job, "Build")["with"]
            contexts = with_meta(image_contexts(job))
            found = [t for t, _ in evaluate([(bare(build["no-cache"]), c) for c in contexts])]
            assert found == tags, name
            # A tag build neither reads nor writes a build cache; the others read one.
            read = cache_lines(build, "cache-from", contexts)
            written = cache_lines(build, "cache-to", contexts)
            assert [not r for r in read] == tags, name
            for i, (runs, value) in enumerate(zip(runs_on(job), written, strict=True)):
                assert not tags[i] or value == "", name
                if runs:
                    assert written_on[i] is None, (name, "two image jobs run")
                    written_on[i] = value
        assert None not in written_on, (name, "a run builds no image")
        if "-registry" in name:  # only runs that logged in may write the cache image
            assert written_on[EVENTS.index(FORK_PR)] == ""
            assert str(written_on[EVENTS.index(PUSH_MAIN)]).endswith("mode=max")


@pytest.mark.parametrize(("cache", "sources", "sink"), [
    ("gha", ["type=gha"], "type=gha,mode=max"),
    ("registry", ["type=registry,ref=ghcr.io/acme/hello:buildcache"],
     "type=registry,ref=ghcr.io/acme/hello:buildcache,mode=max"),
    ("inline", ["type=registry,ref=ghcr.io/acme/hello:main",  # the version output: the branch
                "type=registry,ref=ghcr.io/acme/hello:main"], "type=inline"),
])
def test_cache_backends(cache: str, sources: list[str], sink: str, combos: dict[str, Path]) -> None:
    job = parsed(combos[f"ghcr-{cache}"])["jobs"]["image"]
    build = step_named(job, "Build and push")["with"]
    [push_main] = with_meta(image_contexts(job))[:1]
    assert cache_lines(build, "cache-from", [push_main]) == ["\n".join(sources)]
    assert cache_lines(build, "cache-to", [push_main]) == [sink]
    assert {k: build[k] for k in ("context", "file", "target")} == {
        "context": ".", "file": "Dockerfile", "target": "runner"}


def test_inline_cache_reads_the_cache_from_branch_with_a_tag_safe_name(tmp_path: Path) -> None:
    text = descriptor(cache="inline").replace("after: [ct, xref]", "cache_from: release/2.x")
    job = parsed_text(render_text(load(tmp_path, text)))["jobs"]["image"]
    [push_main] = with_meta(image_contexts(job))[:1]
    [sources] = cache_lines(step_named(job, "Build")["with"], "cache-from", [push_main])
    assert sources.splitlines()[1] == "type=registry,ref=ghcr.io/acme/hello:release-2.x"


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
    assert meta["flavor"] == "latest=false"
    assert meta["tags"].splitlines() == [
        "type=sha,format=long,prefix=,enable=${{ !startsWith(github.ref, 'refs/tags/') }}",
        "type=ref,event=branch", "type=match,pattern=^v?(.*)$,group=1"]


def test_sha_tag_only_on_branch_builds(combos: dict[str, Path]) -> None:
    """A tag build (built without cache: another digest) must not retag the branch's SHA."""
    jobs = [job for path in all_workflows(combos) for job_id, job in parsed(path)["jobs"].items()
            if job_id in ("image", "publish")]
    for job in jobs:
        meta = step_named(job, "Image tags")["with"]
        [sha] = [rule for rule in meta["tags"].splitlines() if rule.startswith("type=sha,")]
        enable = re.fullmatch(r"type=sha,format=long,prefix=,enable=(\$\{\{.*\}\})", sha)
        assert enable, sha
        found = evaluate([(bare(enable.group(1)), {"github": e}) for e in EVENTS])
        # metadata-action accepts exactly "true" or "false" (src/meta.ts, getVersion)
        assert [v for _, v in found] == ["false" if e["ref_type"] == "tag" else "true"
                                          for e in EVENTS]


# metadata-action's type=match: String.prototype.match(pattern) on the tag's name, then the group
# (docker/metadata-action v6.2.0 src/meta.ts, procMatch); run here by Node's own RegExp.
_MATCH = """
const [pattern, group, tags] = JSON.parse(process.argv[1]);
const groups = tags.map(tag => { const m = tag.match(pattern); return m && m[group]; });
console.log(JSON.stringify(groups));
"""


def test_version_tag_is_the_git_tag_without_one_leading_v(tmp_path: Path) -> None:
    meta = step_named(with_tags(tmp_path, ["*"])["jobs"]["image"], "Image tags")["with"]
    [rule] = [r for r in meta["tags"].splitlines() if r.startswith("type=match,")]
    attrs = dict(field.split("=", 1) for field in rule.split(","))
    assert not attrs["pattern"].startswith("/"), "a /regex/flags form would be read differently"
    tags = {"v1.4.2": "1.4.2", "release-7": "release-7", "vv2": "v2", "1.0": "1.0",
            "v2.0.0-rc.1": "2.0.0-rc.1", "V3": "V3"}
    arg = json.dumps([attrs["pattern"], int(attrs["group"]), list(tags)])
    proc = oracles.run(oracles.tool("node"), "-e", _MATCH, arg)
    assert json.loads(proc.stdout) == list(tags.values())


def test_no_publish_tags_no_version_tag(tmp_path: Path) -> None:
    meta = step_named(with_tags(tmp_path, [])["jobs"]["image"], "Image tags")["with"]
    assert not any(r.startswith("type=match") for r in meta["tags"].splitlines())


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
        uses("acme/nope", GitHub(".github/workflows/ci.yml", "ubuntu-24.04", "gha", "ghcr", True))


MINIMAL = "version: 1\nname: hello\nerlang: {otp: '26.2.5'}\n"


@pytest.mark.parametrize(("text", "message"), [
    ("registry: docker.io/acme\ngithub: {auth: ghcr}\n", "github.auth: ghcr logs in to ghcr.io"),
    ("registry: ghcr.io/acme\ngithub: {auth: gcp}\n",
     "github.auth: gcp logs in to gcr.io or Artifact Registry, not ghcr.io"),
    ("registry: ghcr.io/acme\ngithub: {workflow_file: ci/build.yml}\n",
     "github.workflow_file: GitHub runs only .github/workflows/<name>.yml or .yaml files"),
    ("registry: ghcr.io/acme\ngithub: {environment: '${{ github.ref_name }}'}\n",
     "github.environment: \"${{ github.ref_name }}\" is not an environment name"),
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
