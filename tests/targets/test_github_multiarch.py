"""GitHub Actions: image.platforms (native build per platform, then a list), publish.sign (cosign
keyless) and publish.sbom (SBOM and provenance attestations)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cigen.action_pins import shipped as pins
from cigen.targets import github
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import FIXTURES
from tests.helpers import load_project
from tests.targets.test_github import (
    EVENTS,
    auditor_findings,
    bare,
    evaluate,
    image_contexts,
    runs_on,
)

AUTH_REGISTRY = {"ghcr": "ghcr.io/acme", "gcp": "us-docker.pkg.dev/acme/images",
                 "docker-login": "docker.io/acme"}
# Publishing runs among EVENTS (main, release/2.x, v1.2.3 are published; a feature branch, the
# tag nightly and a fork's pull request are not).
PUBLISHING = [True, True, False, True, False, False]
TWO = "  platforms: [linux/amd64, linux/arm64]"


def descriptor(image: str = TWO, publish: tuple[str, ...] = (), **github_keys: object) -> str:
    auth = str(github_keys.get("auth", "ghcr"))
    lines = [
        "version: 1", "name: hello", f"registry: {AUTH_REGISTRY[auth]}",
        "erlang:", '  otp: "26.2.5"', "  checks: [xref, eunit, ct]",
        *(["image:", image] if image else []),
        "publish:", "  branches: [main, release/2.x]", "  after: [ct, xref]", *publish,
        *(["github:"] if github_keys else []),
        *(f"  {key}: {json.dumps(value)}" for key, value in github_keys.items()),
    ]
    return "\n".join(lines) + "\n"


SIGN = ("  sign: true",)
# name -> descriptor: every login and cache with two platforms, signed or not, in an
# environment or not; and one platform, signed.
CASES = {
    "ghcr-gha-sign": descriptor(publish=SIGN),
    "ghcr-registry": descriptor(cache="registry"),
    "gcp-inline-sign": descriptor(publish=SIGN, auth="gcp", cache="inline"),
    "docker-login-registry-env-sign": descriptor(publish=SIGN, auth="docker-login",
                                                 cache="registry", environment="images"),
    "ghcr-gha-env": descriptor(environment="images"),
    "gcp-gha-env-sign": descriptor(publish=SIGN, auth="gcp", environment="images"),
    "one-sign": descriptor(image="", publish=SIGN),
    "one-gcp-sign-env": descriptor(image="", publish=SIGN, auth="gcp", environment="images"),
    "one-arm64": descriptor(image="  platforms: [linux/arm64]", cache="registry"),
    "nosbom": descriptor(publish=("  sbom: false",), arm_runs_on="ubuntu-22.04-arm"),
}


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("multiarch")
    out = {"fixture": FIXTURES / "multiarch" / ".github" / "workflows" / "ci.yml"}
    for name, text in CASES.items():
        work = root / name
        work.mkdir()
        (work / "cigen.yaml").write_text(text)
        project = load_project(work / "cigen.yaml", ("github",))
        out[name] = root / f"{name}.yml"
        out[name].write_text(github.render(project))
    return out


def jobs_of(path: Path) -> dict[str, Any]:
    jobs: dict[str, Any] = load_plain(path.read_text())["jobs"]
    return jobs


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in job["steps"] if s.get("name") == name]
    return found


def action_steps(job: dict[str, Any], repo: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(f"{repo}@")]


# --- the independent oracles ---


@pytest.mark.parametrize("oracle", oracles.WORKFLOW_ORACLES)
def test_oracles_accept_every_workflow(oracle: Any, workflows: dict[str, Path]) -> None:
    oracle(*workflows.values())


def test_zizmor_auditor_finds_nothing(workflows: dict[str, Path]) -> None:
    assert auditor_findings(*workflows.values()) == []


def test_run_scripts_pass_shellcheck(workflows: dict[str, Path], tmp_path: Path) -> None:
    """Besides actionlint's own shellcheck pass: each run script as a bash file."""
    scripts = []
    for name, path in workflows.items():
        for job_id, job in jobs_of(path).items():
            for i, s in enumerate(job["steps"]):
                if "run" in s and not s["run"].startswith("rebar3 "):
                    script = tmp_path / f"{name}-{job_id}-{i}.sh"
                    script.write_text("#!/usr/bin/env bash\nset -e\n" + s["run"])
                    scripts.append(script)
    assert len(scripts) > 10
    oracles.shellcheck(*scripts)


# --- two platforms ---


def test_one_native_job_per_platform_then_the_list(workflows: dict[str, Path]) -> None:
    for name in ("fixture", "ghcr-gha-sign", "ghcr-registry", "gcp-inline-sign", "nosbom"):
        jobs = jobs_of(workflows[name])
        amd, arm, merge = jobs["image-amd64"], jobs["image-arm64"], jobs["image"]
        arm_label = "ubuntu-22.04-arm" if name == "nosbom" else "ubuntu-24.04-arm"
        assert (amd["runs-on"], arm["runs-on"]) == ("ubuntu-24.04", arm_label), name
        assert merge["needs"] == ["image-amd64", "image-arm64"], name
        for arch, job in (("amd64", amd), ("arm64", arm)):
            # publish.after on every platform job
            assert job["needs"] == (["eunit", "xref"] if name == "fixture" else ["ct", "xref"])
            build = step(job, "Build and push")
            assert build["with"]["platforms"] == f"linux/{arch}"
            assert "tags" not in build["with"]
            assert "push" not in build["with"]
            assert job["outputs"] == {"digest": "${{ steps.build.outputs.digest }}"}
            assert build["id"] == "build"


def test_platforms_push_by_digest_only_on_publishing_runs(workflows: dict[str, Path]) -> None:
    job = jobs_of(workflows["ghcr-gha-sign"])["image-arm64"]
    outputs = step(job, "Build and push")["with"]["outputs"]
    fixed, push = outputs.split(",push=")
    assert fixed == ("type=image,name=ghcr.io/acme/hello,push-by-digest=true,"
                     "name-canonical=true")
    pushed = evaluate([(bare(push), c) for c in image_contexts(job)])
    assert [value == "true" for _, value in pushed] == PUBLISHING
    login = step(job, "Log in to ghcr.io")
    assert [t for t, _ in evaluate([(bare(login["if"]), c) for c in image_contexts(job)])] \
        == PUBLISHING


def test_the_list_job_runs_only_on_publishing_runs(workflows: dict[str, Path]) -> None:
    for name in ("fixture", "ghcr-gha-sign", "ghcr-registry"):
        merge = jobs_of(workflows[name])["image"]
        if name != "fixture":
            assert runs_on(merge) == PUBLISHING, name
        assert not any("if" in s for s in merge["steps"]), name  # its `if` is the condition


def test_the_list_takes_the_tags_of_one_platform_image(workflows: dict[str, Path]) -> None:
    """Same metadata-action rules as the one image job; tags and digests reach the script
    through env only, read with mapfile: nothing is spliced into the script."""
    jobs = jobs_of(workflows["ghcr-registry"])
    one = jobs_of(workflows["one-arm64"])["image"]
    merge = jobs["image"]
    meta = "Image tags and labels"
    assert step(merge, meta)["with"] == step(one, meta)["with"]
    create = step(merge, "Create and push the manifest list")
    assert create["env"] == {
        "IMAGE": "ghcr.io/acme/hello",
        "IMAGE_TAGS": "${{ steps.meta.outputs.tags }}",
        "DIGEST_AMD64": "${{ needs.image-amd64.outputs.digest }}",
        "DIGEST_ARM64": "${{ needs.image-arm64.outputs.digest }}",
    }
    assert "${{" not in create["run"]
    assert 'mapfile -t tags <<< "$IMAGE_TAGS"' in create["run"]
    assert '"$IMAGE@$DIGEST_AMD64"' in create["run"]
    assert '"$IMAGE@$DIGEST_ARM64"' in create["run"]


def test_the_list_script_tags_each_tag_once_and_lists_each_digest(
    workflows: dict[str, Path], tmp_path: Path
) -> None:
    """Run the script with a fake `docker` that prints its arguments: tags with spaces or globs
    stay one argument each."""
    create = step(jobs_of(workflows["ghcr-gha-sign"])["image"], "Create and push the manifest list")
    fake = tmp_path / "bin"
    fake.mkdir()
    metadata = json.dumps({"containerimage.descriptor": {"digest": "sha256:list"}})
    (fake / "docker").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RUNNER_TEMP/args"\n'
                                 f"printf '%s' '{metadata}' > \"$RUNNER_TEMP/image-list.json\"\n")
    (fake / "docker").chmod(0o755)
    env = {**create["env"], "IMAGE_TAGS": "ghcr.io/acme/hello:main\nghcr.io/acme/hello:*\n",
           "DIGEST_AMD64": "sha256:aaa", "DIGEST_ARM64": "sha256:bbb",
           "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out"),
           "PATH": f"{fake}:/usr/bin:/bin"}
    oracles.run(oracles.tool("bash"), "-e", "-c", create["run"], env=env)
    assert (tmp_path / "args").read_text().splitlines() == [
        "buildx", "imagetools", "create", "--metadata-file", f"{tmp_path}/image-list.json",
        "--tag", "ghcr.io/acme/hello:main", "--tag", "ghcr.io/acme/hello:*",
        "ghcr.io/acme/hello@sha256:aaa", "ghcr.io/acme/hello@sha256:bbb"]
    assert (tmp_path / "out").read_text() == "digest=sha256:list\n"


@pytest.mark.parametrize(("name", "sources", "sinks"), [
    ("ghcr-gha-sign", ["type=gha,scope={arch}"], ["type=gha,scope={arch},mode=max"]),
    ("ghcr-registry", ["type=registry,ref=ghcr.io/acme/hello:buildcache-{arch}"],
     ["type=registry,ref=ghcr.io/acme/hello:buildcache-{arch},mode=max"]),
])
def test_platform_caches_do_not_collide(
    name: str, sources: list[str], sinks: list[str], workflows: dict[str, Path]
) -> None:
    jobs = jobs_of(workflows[name])
    for arch in ("amd64", "arm64"):
        job = jobs[f"image-{arch}"]
        build = step(job, "Build and push")["with"]
        main = image_contexts(job)[0]  # a push to main: reads and writes the cache
        got = [evaluate([(bare(build[key]), main)])[0][1] for key in ("cache-from", "cache-to")]
        assert got == [sources[0].format(arch=arch), sinks[0].format(arch=arch)], (name, arch)


def test_inline_cache_stays_inline_per_platform(workflows: dict[str, Path]) -> None:
    for arch in ("amd64", "arm64"):
        build = step(jobs_of(workflows["gcp-inline-sign"])[f"image-{arch}"], "Build and push")
        assert "type=inline" in build["with"]["cache-to"]


def test_an_environment_splits_each_platform(workflows: dict[str, Path]) -> None:
    for name in ("docker-login-registry-env-sign", "ghcr-gha-env", "gcp-gha-env-sign"):
        jobs = jobs_of(workflows[name])
        assert list(jobs)[-5:] == ["image-amd64", "image-arm64", "publish-amd64",
                                   "publish-arm64", "publish"], name
        assert [j for j, job in jobs.items() if "environment" in job] == [
            "publish-amd64", "publish-arm64", "publish"], name
        assert jobs["publish"]["needs"] == ["publish-amd64", "publish-arm64"]
        for arch in ("amd64", "arm64"):
            build, pub = jobs[f"image-{arch}"], jobs[f"publish-{arch}"]
            assert build["needs"] == pub["needs"] == ["ct", "xref"], name
            assert runs_on(pub) == PUBLISHING
            assert runs_on(build) == [not p for p in PUBLISHING]
            assert build["permissions"] == {"contents": "read"}
            assert step(build, "Build")["with"]["push"] is False
            assert "outputs" not in step(build, "Build")["with"]
            assert not action_steps(build, "docker/login-action"), name
            assert step(pub, "Build and push")["with"]["outputs"].endswith(",push=true")
            assert pub["outputs"] == {"digest": "${{ steps.build.outputs.digest }}"}
            assert "id-token" not in pub["permissions"] or "gcp" in name
        assert runs_on(jobs["publish"]) == PUBLISHING
        env = step(jobs["publish"], "Create and push the manifest list")["env"]
        assert env["DIGEST_ARM64"] == "${{ needs.publish-arm64.outputs.digest }}"


# --- signing ---


def signers(jobs: dict[str, Any]) -> list[str]:
    return [j for j, job in jobs.items() if action_steps(job, "sigstore/cosign-installer")]


def test_only_the_job_that_pushes_the_final_digest_signs(workflows: dict[str, Path]) -> None:
    expected = {"fixture": "image", "ghcr-gha-sign": "image", "gcp-inline-sign": "image",
                "docker-login-registry-env-sign": "publish", "gcp-gha-env-sign": "publish",
                "one-sign": "image", "one-gcp-sign-env": "publish"}
    for name, path in workflows.items():
        jobs = jobs_of(path)
        assert signers(jobs) == ([expected[name]] if name in expected else []), name
        gcp = "gcp" in name
        for job_id, job in jobs.items():
            # id-token: the signing job, and with gcp every job that logs in
            logs_in = bool(action_steps(job, "docker/login-action"))
            wants = job_id in signers(jobs) or (gcp and logs_in)
            assert ("id-token" in job["permissions"]) == wants, (name, job_id)
            if wants:
                assert job["permissions"]["id-token"] == "write"


def test_cosign_is_installed_pinned_and_signs_the_pushed_digest(workflows: dict[str, Path]) -> None:
    tag, sha = pins()["sigstore/cosign-installer"]
    assert tag == "v4.1.2"
    for name, job_id, digest in [
        ("ghcr-gha-sign", "image", "${{ steps.list.outputs.digest }}"),
        ("one-sign", "image", "${{ steps.build.outputs.digest }}"),
        ("one-gcp-sign-env", "publish", "${{ steps.build.outputs.digest }}"),
    ]:
        job = jobs_of(workflows[name])[job_id]
        (install,) = action_steps(job, "sigstore/cosign-installer")
        assert install["uses"] == f"sigstore/cosign-installer@{sha}"
        sign = step(job, "Sign the image")
        assert sign["run"] == 'cosign sign --yes "$IMAGE@$DIGEST"\n'
        assert sign["env"]["DIGEST"] == digest
        assert sign["env"]["IMAGE"].endswith("/hello")
        names = [s.get("name") for s in job["steps"]]
        assert names.index("Sign the image") == len(names) - 1, "after the push"
        assert f"# {tag}" in workflows[name].read_text()
        assert re.search(r"id-token: write # OIDC token for .*keyless cosign signing",
                         workflows[name].read_text())


def test_a_single_platform_image_signs_only_on_publishing_runs(workflows: dict[str, Path]) -> None:
    job = jobs_of(workflows["one-sign"])["image"]
    for name in ("Install cosign", "Sign the image"):
        when = step(job, name)["if"]
        assert [t for t, _ in evaluate([(bare(when), c) for c in image_contexts(job)])] \
            == PUBLISHING
    # publish: runs only when publishing, so its steps need no `if`
    publish = jobs_of(workflows["one-gcp-sign-env"])["publish"]
    assert runs_on(publish) == PUBLISHING
    assert "if" not in step(publish, "Sign the image")


# --- SBOM and provenance ---


def test_sbom_and_provenance_by_default_and_not_with_sbom_false(workflows: dict[str, Path]) -> None:
    for name, path in workflows.items():
        for job in jobs_of(path).values():
            for build in action_steps(job, "docker/build-push-action"):
                got = {k: build["with"].get(k) for k in ("sbom", "provenance")}
                off = name == "nosbom"
                assert got == ({"sbom": None, "provenance": None} if off
                               else {"sbom": True, "provenance": "mode=max"}), name


def test_a_single_arm64_platform_builds_on_the_arm_runner(workflows: dict[str, Path]) -> None:
    job = jobs_of(workflows["one-arm64"])["image"]
    assert job["runs-on"] == "ubuntu-24.04-arm"
    assert step(job, "Build and push")["with"]["platforms"] == "linux/arm64"
    assert len(EVENTS) == len(PUBLISHING)
