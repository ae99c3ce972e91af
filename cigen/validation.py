from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from cigen import targets
from cigen.errors import CigenError
from cigen.model import Project
from cigen.targets.base import Files
from cigen.yamlio import load_plain

_INSTALL_HINT = (
    "checking outputs needs check-jsonschema's vendored schemas: pip install 'cigen[validate]'"
)


def official_schemas(project: Project) -> dict[str, str]:
    """Output path -> the name of the official schema check-jsonschema vendors for it."""
    chosen = targets.selected(project, ())
    pairs = {
        "circleci": (".circleci/config.yml", "circle-ci"),
        "github": (project.github.workflow_file, "github-workflows"),
        "cloudbuild": (project.cloudbuild.file, "cloudbuild"),
    }
    return {path: schema for name, (path, schema) in pairs.items() if name in chosen}


def validate_outputs(project: Project, planned: Files) -> list[str]:
    """Every problem in the rendered outputs: official schemas, then each target's own checks."""
    found = []
    for path, name in official_schemas(project).items():
        found += [
            f"{path}: {msg}" for msg in _schema_errors(_vendored(name), load_plain(planned[path]))
        ]
    for name in targets.selected(project, ()):
        check = getattr(targets.load(name), "check_output", None)
        if check is not None:
            found += check(project, planned)
    return found


def _vendored(name: str) -> dict[str, Any]:
    try:
        package = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        raise CigenError(_INSTALL_HINT) from None
    schema: dict[str, Any] = json.loads(package.joinpath(f"{name}.json").read_text("utf-8"))
    return schema


def _schema_errors(schema: dict[str, Any], data: Any) -> Iterator[str]:
    from jsonschema.exceptions import best_match

    validator = _ecma_validator(schema)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        shown = best_match([error]) if error.context else error
        yield f"{error.json_path}: {shown.message}"


def _ecma_validator(schema: dict[str, Any]) -> Any:
    """A validator whose patterns are ECMA-262 regexes (the vendored schemas use `\\p{...}`)."""
    import regress
    from jsonschema import ValidationError, validators

    compiled = functools.lru_cache(maxsize=None)(lambda p: regress.Regex(p, flags="u"))

    def pattern(validator: Any, regex: str, instance: Any, _: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and compiled(regex).find(instance) is None:
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    def pattern_properties(validator: Any, props: Any, instance: Any, _: Any) -> Iterator[Any]:
        if validator.is_type(instance, "object"):
            for regex, sub in props.items():
                for key, value in instance.items():
                    if compiled(regex).find(key) is not None:
                        yield from validator.descend(value, sub, path=key, schema_path=regex)

    base = validators.validator_for(schema)
    extended = validators.extend(
        base, {"pattern": pattern, "patternProperties": pattern_properties}
    )
    return extended(schema)
