"""The loopback registry the pin tests share: one docker-registry for the whole session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from cigen.pin.registry import Registry
from tests.pin_support import docker_registry, quick_client

_names = (f"t{i}" for i in itertools.count())


@pytest.fixture(scope="session")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry on loopback for the whole session (required in CI)."""
    with docker_registry(tmp_path_factory.mktemp("registry")) as base:
        yield base


@pytest.fixture
def reg(registry_url: str) -> Registry:
    return Registry(quick_client())


@pytest.fixture
def repo(registry_url: str) -> str:
    """A fresh repository name, so tests that move tags do not disturb each other."""
    return f"cigen/{next(_names)}"
