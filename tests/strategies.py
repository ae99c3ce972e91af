from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from cigen import compat
from cigen import schema as cigen_schema
from cigen.model import Project
from cigen.yamlio import dump
from tests.helpers import load_project, texts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
USER_DOCKERFILE = FIXTURES / "minimal" / "Dockerfile"

SCHEMA: dict[str, Any] = cigen_schema.schema()
Node = dict[str, Any]
KeyPath = tuple[str, ...]  # property names; "[]" for an array item, "{}" for a map value

# The injection corpus: fixtures/injection/corpus.json says what each list is for.
_CORPUS = json.loads((FIXTURES / "injection" / "corpus.json").read_text("utf-8"))
YAML_TRICKY: tuple[str, ...] = tuple(_CORPUS["yaml_tricky"]["values"])
HOSTILE: tuple[str, ...] = tuple(_CORPUS["hostile"]["values"])
CORPUS = YAML_TRICKY + HOSTILE


def free_text() -> st.SearchStrategy[str]:
    """Text for keys the schema lets any string through: the corpus, random text, mixtures."""
    piece = st.sampled_from(CORPUS)
    mixed = st.lists(piece | st.text(max_size=4), min_size=2, max_size=4).map("".join)
    return st.one_of(piece, st.text(max_size=16), mixed)


def resolve(node: Node) -> Node:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = SCHEMA["$defs"][ref.rsplit("/", 1)[1]]
    return {**resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def from_schema(node: Node, path: KeyPath = (),
                overrides: dict[KeyPath, st.SearchStrategy[Any]] | None = None
                ) -> st.SearchStrategy[Any]:
    """Values valid against `node`: enums, patterns (from_regex), optional keys, maps, lists."""
    overrides = overrides or {}
    if path in overrides:
        return overrides[path]
    node = resolve(node)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "if" in node and "then" in node and "else" in node:  # a value of one kind or the other
        return st.one_of(from_schema(node["then"], path, overrides),
                         from_schema(node["else"], path, overrides))
    kind = node.get("type")
    if isinstance(kind, list):  # image: a mapping, or false (the library form: tests/init,
        kind = kind[0]  # tests/targets/test_library.py); the mapping here

    if kind not in _BY_TYPE:
        raise NotImplementedError(f"{'.'.join(path)}: no strategy for {node}")
    return _BY_TYPE[kind](node, path, overrides)


def _string(node: Node, path: KeyPath, overrides: Any) -> st.SearchStrategy[str]:
    if "pattern" in node:
        # Python's `$` also matches before a final newline; JSON Schema's does not.
        text = st.from_regex(str(node["pattern"]), fullmatch=True)
        return text.filter(lambda s: not s.endswith("\n") and len(s) <= 200)
    return free_text().filter(lambda s: len(s) >= node.get("minLength", 0))


def _array(node: Node, path: KeyPath, overrides: Any) -> st.SearchStrategy[list[Any]]:
    items = from_schema(node.get("items", {}), (*path, "[]"), overrides)
    unique = (lambda v: json.dumps(v, sort_keys=True)) if node.get("uniqueItems") else None
    return st.lists(items, min_size=node.get("minItems", 0), max_size=4, unique_by=unique)


def _object(node: Node, path: KeyPath, overrides: Any) -> st.SearchStrategy[dict[str, Any]]:
    props = node.get("properties", {})
    if props:
        # A conditional requirement (registry, unless image is false) is kept: image is a
        # mapping here.
        required = set(node.get("required", ())) | set(node.get("else", {}).get("required", ()))
        parts = {k: from_schema(v, (*path, k), overrides) for k, v in props.items()}
        return st.fixed_dictionaries({k: s for k, s in parts.items() if k in required},
                                     optional={k: s for k, s in parts.items() if k not in required})
    values = from_schema(node.get("additionalProperties", {}), (*path, "{}"), overrides)
    names = from_schema({"type": "string", **node.get("propertyNames", {})}, (*path, "<key>"),
                        overrides)
    return st.dictionaries(names, values, max_size=3)


_BY_TYPE: dict[str, Callable[[Node, KeyPath, Any], st.SearchStrategy[Any]]] = {
    "string": _string, "array": _array, "object": _object,
    "integer": lambda node, *_: st.integers(node.get("minimum"), node.get("maximum")),
    "boolean": lambda *_: st.booleans(),
}

# Realistic choices beside random ones: the registry host decides the login (ghcr.io, GCR,
# Artifact Registry, any other).
REGISTRIES = ("ghcr.io/acme", "us.gcr.io/acme", "europe-docker.pkg.dev/acme/images",
              "docker.io/acme", "localhost:5000/acme", "registry.example.com:5443/team/sub")
DESTINATIONS = ("gcr.io/$PROJECT_ID/app:$COMMIT_SHA", "us-docker.pkg.dev/p/r/app:$SHORT_SHA",
                "ghcr.io/acme/app:$BRANCH_NAME", "localhost:5000/app:v1")


def _overrides() -> dict[KeyPath, st.SearchStrategy[Any]]:
    registry = st.from_regex(str(_node("registry")["pattern"]), fullmatch=True)
    return {
        ("registry",): st.sampled_from(REGISTRIES) | registry.filter(lambda s: "\n" not in s),
        # minLength 1, as the schema says
        ("cloudbuild", "destination"): st.sampled_from(DESTINATIONS) | free_text().filter(bool),
        # check-jsonschema's vendored Cloud Build schema predates E2_STANDARD_2 (the schema's
        # own description says so): the official-schema oracle would refuse it.
        ("cloudbuild", "machine_type"): st.sampled_from(
            [m for m in _node("cloudbuild.machine_type")["enum"] if m != "E2_STANDARD_2"]),
        # Releases that exist and fit (docs/compatibility.md); the regex adds ones the table
        # refuses. Three values, as before the table: the same draws, so the samples stay put.
        # Overrides patch paths of one rendered file: random ones would only be refused
        # (tests/test_overrides.py covers them).
        ("overrides",): st.just({}),
        # A project in a subfolder must be one, with a rebar.config: tests/targets/
        # test_subfolder.py covers it; a random folder would only be refused.
        ("directory",): st.just("."),
        ("erlang", "otp"): st.sampled_from(("26.2.5", "27.3", "28")) | st.from_regex(
            r"[0-9]{1,2}(\.[0-9]{1,2}){0,3}", fullmatch=True),
        # Further releases of the checks: ones that exist (an old one runs in the erlang image on
        # GitHub), or random ones the table refuses.
        ("erlang", "matrix"): st.lists(st.sampled_from(
            ("25.3.2.21", "26.2.5.21", "27", "23.3.4.20")) | st.from_regex(
            r"[0-9]{1,2}(\.[0-9]{1,2}){0,3}", fullmatch=True), max_size=2),
    }


def _node(dotted: str) -> Node:
    node = SCHEMA
    for key in dotted.split("."):
        node = resolve(node["properties"][key])
    return node


def raw_descriptors() -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid descriptors, drawn from the JSON Schema alone."""
    return from_schema(SCHEMA, (), _overrides())


# --- coherent descriptors: the cross-key rules the loader and targets enforce, applied ---

CHECK_DEFAULT = ("xref", "dialyzer", "ct")
SECRET_VERSION = "projects/acme/secrets/token/versions/1"
STAGES = ("builder", "prod_compiled", "releaser", "runner")


def descriptors() -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid descriptors, most of them repaired to pass the cross-key rules too (the
    rest measure how often the targets refuse a schema-valid one)."""
    # One in ten stays raw (hypothesis starts from 0, the simplest choice: repaired).
    return st.tuples(raw_descriptors(), st.integers(0, 9)).map(
        lambda pair: pair[0] if pair[1] == 9 else cohere(pair[0]))


def cohere(raw: dict[str, Any]) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(json.dumps(raw))
    for repair in (_checks, _services, _env, _cloudbuild, _github, _image, _fit, _publishing):
        repair(d)
    return d


def _checks(d: dict[str, Any]) -> None:
    erlang = d["erlang"]
    checks = erlang.setdefault("checks", list(CHECK_DEFAULT))
    if "cover" in checks and "ct" not in checks:
        checks.append("ct")
    if erlang.get("services") and not {"eunit", "ct"} & set(checks):
        checks.append("ct")
    publish = d.setdefault("publish", {})
    if "after" in publish:
        publish["after"] = [c for c in publish["after"] if c in checks]
    elif "ct" not in checks:
        publish["after"] = []
    erlang["setup"] = {k: v for k, v in erlang.get("setup", {}).items() if k in checks}


def _services(d: dict[str, Any]) -> None:
    erlang, seen = d["erlang"], set()
    kept = []
    for service in erlang.get("services", []):
        if service["name"] in seen:
            continue
        seen.add(service["name"])
        service["image"] = _pinned(service["image"])
        service["ports"] = service.get("ports") or [5432]
        service["env"] = {k: (v if isinstance(v, str) else "x")
                          for k, v in service.get("env", {}).items() if not _secretish(k)}
        host_var = service["name"].upper().replace("-", "_") + "_HOST"
        erlang.get("env", {}).pop(host_var, None)
        kept.append(service)
    erlang["services"] = kept
    if kept:
        d.setdefault("cloudbuild", {})["run_checks"] = False


def _pinned(image: str) -> str:
    if "@sha256:" in image:
        return image
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image + ":1.0"
    return name + ":1.0" if tag == "latest" else image


def _secretish(name: str) -> bool:
    return any(word in name.upper() for word in ("TOKEN", "SECRET", "KEY"))


def _env(d: dict[str, Any]) -> None:
    env = d["erlang"].get("env", {})
    for key in list(env):
        if key.upper().startswith("GITHUB_"):
            del env[key]
        elif _secretish(key) or not isinstance(env[key], str):
            env[key] = {"secret": key}
    secrets = [k for k, v in env.items() if not isinstance(v, str)]
    cloudbuild = d.setdefault("cloudbuild", {})
    if secrets and cloudbuild.get("run_checks"):
        known = cloudbuild.setdefault("secrets", {})
        known.update({k: SECRET_VERSION for k in secrets if k not in known})
    for name in cloudbuild.get("secrets", {}):
        if isinstance(env.get(name), str):
            del env[name]


def _cloudbuild(d: dict[str, Any]) -> None:
    cb = d.setdefault("cloudbuild", {})
    if cb.get("secrets"):
        cb["run_checks"] = True
        if d["erlang"].get("services"):
            cb["secrets"] = {}
    for key in ("cache_repo", "timeout"):
        cb.pop(key, None)
    if cb.get("destination") not in DESTINATIONS:
        cb.pop("destination", None)
    if cb.get("cache_ttl", "8h").strip("0hms") == "":
        cb["cache_ttl"] = "8h"
    if cb.get("service_account") and cb.get("logging") in ("LEGACY", "GCS_ONLY"):
        del cb["logging"]
    for key in ("kaniko_image", "docker_image"):
        if ":" not in cb.get(key, ":").rsplit("/", 1)[-1] or cb.get(key, "").endswith(":latest"):
            cb.pop(key)
    _substitutions(cb)
    image = d.get("image", {})
    if image.get("kaniko_dockerfile", "ci/Dockerfile.cb") == image.get("dockerfile", "Dockerfile"):
        image.pop("kaniko_dockerfile")
    if cb.get("file") in (".gcloudignore", image.get("kaniko_dockerfile", "ci/Dockerfile.cb")):
        del cb["file"]


def _substitutions(cb: dict[str, Any]) -> None:
    # Values are literal text ($$ is a $); each key is used by a tag, as Cloud Build demands.
    values = {k: v.replace("$", "$$") for k, v in cb.get("substitutions", {}).items()
              if k not in ("_BASE_IMAGE", "_RUNNER_IMAGE") and not k.startswith("_SAFE_")}
    cb["substitutions"] = values
    tags = [t for t in cb.get("tags", []) if "$" not in t]
    cb["tags"] = list(dict.fromkeys([*tags, *(f"${{{key}}}" for key in values)]))


def _github(d: dict[str, Any]) -> None:
    gh = d.setdefault("github", {})
    path = gh.get("workflow_file", ".github/workflows/ci.yml")
    name = path.removeprefix(".github/workflows/")
    if name == path or "/" in name or not name.endswith((".yml", ".yaml")):
        gh.pop("workflow_file", None)
    _refresh(d, gh)
    host = d["registry"].split("/", 1)[0]
    gcp = host.endswith(("gcr.io", "-docker.pkg.dev"))
    if (gh.get("auth") == "ghcr" and host != "ghcr.io") or (gh.get("auth") == "gcp" and not gcp):
        del gh["auth"]


def _refresh(d: dict[str, Any], gh: dict[str, Any]) -> None:
    """github.refresh: a workflow file of its own under .github/workflows/, and the github
    target (cigen/targets/github/refresh.py problems, descriptor _refresh_target)."""
    if "refresh" not in gh:
        return
    if "github" not in d.get("targets", ["github"]):
        del gh["refresh"]
        return
    main = gh.get("workflow_file", ".github/workflows/ci.yml")
    path = gh["refresh"].get("workflow_file", ".github/workflows/cigen-refresh.yml")
    name = path.removeprefix(".github/workflows/")
    if name == path or "/" in name or not name.endswith((".yml", ".yaml")) or path == main:
        gh["refresh"].pop("workflow_file", None)
    if gh["refresh"].get("workflow_file", ".github/workflows/cigen-refresh.yml") == main:
        del gh["refresh"]


def _image(d: dict[str, Any]) -> None:
    image = d.setdefault("image", {})
    if image.get("generate", True) and image.get("target", "runner") not in STAGES:
        del image["target"]
    image["env"] = {k: v.translate({0: None, 10: None, 13: None})
                    for k, v in image.get("env", {}).items()}
    if image.get("os") == "debian":
        for key in ("build_packages", "runtime_packages"):
            if key in image:
                image[key] = [p for p in image[key] if not any(o in p for o in "~<>")]
    wrong = ("debian", "ubuntu", "bookworm", "bullseye", "trixie", "alpine")
    for key in ("base", "runner"):
        if any(w in image.get(key, "").rsplit("/", 1)[-1].lower() for w in wrong):
            del image[key]


def _fit(d: dict[str, Any]) -> None:
    """What the compatibility table allows: an OTP with a rebar3 and a supported default image,
    a rebar3 that runs on it, a runner of the builder's OS release."""
    erlang, image = d["erlang"], d["image"]
    alpine = image.get("os", "alpine") == "alpine"
    default = compat.erlang_release(erlang["otp"], alpine)
    if not compat.newest_rebar3(erlang["otp"]) or not default or not compat.supported(default):
        erlang["otp"] = "26.2.5"
    if compat.rebar3_refusal(erlang.get("rebar3", ""), erlang["otp"]):
        del erlang["rebar3"]
    seen = {erlang["otp"]}  # matrix releases: new ones, with a rebar3 and an image
    erlang["matrix"] = [r for r in erlang.get("matrix", []) if r not in seen and not seen.add(r)
                        and compat.newest_rebar3(r) and compat.erlang_release(r, alpine=False)
                        and not compat.rebar3_refusal(erlang.get("rebar3", ""), r)]
    base = compat.image_release(image.get("base", f"erlang:{erlang['otp']}"))
    runner = compat.image_release(image["runner"]) if "runner" in image else None
    if base is None or not compat.supported(base) or (runner and runner != base):
        image.pop("base", None)
        image.pop("runner", None)


def _publishing(d: dict[str, Any]) -> None:
    """Cloud Build builds linux/amd64 only, signs nothing, and its Kaniko builder attests
    nothing (tests/targets/test_cloudbuild_attest.py); the action pins file is the default one,
    which these projects do not have (tests/targets/test_github_refresh.py covers the file)."""
    if "cloudbuild" in d.get("targets", ["cloudbuild"]):
        d.get("image", {}).pop("platforms", None)
        publish = d.get("publish", {})
        publish.pop("sign", None)
        if publish.get("sbom") is True:
            del publish["sbom"]
    d.get("github", {}).pop("action_pins", None)


# --- a descriptor on disk, loaded and rendered as `cigen render` would ---

def write_project(root: Path, descriptor: dict[str, Any], as_json: bool = False) -> Path:
    """cigen.yaml (YAML, or JSON: YAML reads it too) and, for image.generate false, a Dockerfile
    of the user's: the minimal fixture's, whose stages the published target names."""
    config = root / "cigen.yaml"
    config.write_text(json.dumps(descriptor) if as_json else dump(descriptor), "utf-8")
    image = descriptor.get("image", {})
    dockerfile = root / image.get("dockerfile", "Dockerfile")
    if not image.get("generate", True) and not dockerfile.is_dir():  # `.`: cigen refuses it
        dockerfile.parent.mkdir(parents=True, exist_ok=True)
        dockerfile.write_text(USER_DOCKERFILE.read_text("utf-8"), "utf-8")
    return config


def render(config: Path) -> tuple[Project, dict[str, str]]:
    project = load_project(config)
    return project, texts(project)
