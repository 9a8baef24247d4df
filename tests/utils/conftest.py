"""The upstream benchmark script, loaded as a module for the tests of its pieces."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.utils.scripts import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench_upstream")
