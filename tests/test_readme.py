from __future__ import annotations

import re

from scripts.descriptor_table import table
from tests.conftest import REPO

README = (REPO / "README.md").read_text("utf-8")


def test_descriptor_table_is_generated_from_the_schema() -> None:
    start = README.index("<!-- descriptor-table:start -->\n") + len(
        "<!-- descriptor-table:start -->\n"
    )
    end = README.index("<!-- descriptor-table:end -->")
    assert README[start:end] == table(), "run: python -m scripts.update_readme"


def test_readme_names_the_setup_commands() -> None:
    assert "bash .ci/run" in README
    assert re.search(
        r"cigen render -c \S*fixtures/service_discovery|fixtures/service_discovery/cigen.yaml",
        README,
    )
