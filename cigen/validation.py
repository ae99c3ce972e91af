from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from cigen import targets
from cigen.core import Output
from cigen.errors import CigenError
from cigen.model import Project

_INSTALL_HINT = "checking outputs needs check-jsonschema: pip install 'cigen[validate]'"


def validate_outputs(project: Project, outputs: Iterable[Output]) -> list[str]:
    """Every problem in the rendered outputs: official schemas, then each target's lint."""
    outputs = tuple(outputs)
    found = list(_schema_problems(outputs))
    texts = {o.path: o.text for o in outputs}
    for name in dict.fromkeys(o.target for o in outputs if o.target in targets.TARGETS):
        lint = getattr(targets.load(name), "lint", None)
        if lint is not None:
            found += lint(project, texts)
    return found


def _schema_problems(outputs: tuple[Output, ...]) -> Iterator[str]:
    """check-jsonschema's verdict, through its command line (its public interface) with its
    JSON report, on each output with an official schema; one run per schema."""
    by_schema: dict[str, list[Output]] = {}
    for output in outputs:
        if output.schema:
            by_schema.setdefault(output.schema, []).append(output)
    with tempfile.TemporaryDirectory(prefix="cigen-validate-") as tmp:
        for schema, group in sorted(by_schema.items()):
            shown = {}
            for i, output in enumerate(group):
                path = Path(tmp, f"{i}{Path(output.path).suffix or '.yaml'}")
                path.write_text(output.text, "utf-8")
                shown[str(path)] = output.path
            for error in _run(schema, list(shown)):
                yield f"{shown.get(error['filename'], error['filename'])}: {error['message']}"


def _run(schema: str, paths: list[str]) -> list[dict[str, str]]:
    """check-jsonschema's command, run in this process (its start-up is most of its cost)."""
    try:
        from check_jsonschema import main
    except ImportError:
        raise CigenError(_INSTALL_HINT) from None
    args = ["--builtin-schema", f"vendor.{schema}", "--force-filetype", "yaml", "-o", "json"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main.main([*args, *paths], standalone_mode=False)
    report = json.loads(out.getvalue())
    errors = [{**e, "message": f"{e['path']}: {e['message']}"} for e in report.get("errors", [])]
    errors += [{**e, "message": e.get("message", "cannot be parsed")}
               for e in report.get("parse_errors", [])]
    return errors
