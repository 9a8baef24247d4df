"""The upstream benchmark's drift report: which modular files upstream reproduces byte for byte,
and the examples per rule it prints (those files first, one warning per file).
Run: python -m pytest tests/utils/test_bench_upstream_drifts.py -q
"""

from __future__ import annotations

from types import ModuleType


def result(bench: ModuleType, path: str, identical: bool) -> object:
    modular = f"{path.split('/')[0]}/modular_{path.split('/')[0]}.py"
    return bench.FileResult(path=path, modular=modular, status="converted", bytes=identical)


def test_a_modular_file_is_reproduced_only_when_every_output_is_byte_identical(bench: ModuleType) -> None:
    results = [
        result(bench, "foo/modeling_foo.py", True),
        result(bench, "foo/configuration_foo.py", True),
        result(bench, "bar/modeling_bar.py", True),
        result(bench, "bar/configuration_bar.py", False),
    ]
    assert bench.reproduced_modular(results) == {"foo/modular_foo.py"}


def test_examples_come_from_distinct_files_reproduced_ones_first(bench: ModuleType) -> None:
    drifts = {
        "a/modular_a.py": ["a/modular_a.py:3:9: W301 first in a", "a/modular_a.py:9:9: W301 second in a"],
        "b/modular_b.py": ["b/modular_b.py:5:5: W301 in b", "b/modular_b.py:7:5: W321 in b"],
        "c/modular_c.py": ["c/modular_c.py:1:1: W301 in c"],
    }
    examples = bench.rule_examples(drifts, {"b/modular_b.py", "c/modular_c.py"}, 2)
    assert examples == {
        "W301": ["[reproduced] b/modular_b.py:5:5: W301 in b", "[reproduced] c/modular_c.py:1:1: W301 in c"],
        "W321": ["[reproduced] b/modular_b.py:7:5: W321 in b"],
    }
    assert bench.rule_examples(drifts, set(), 3)["W301"] == [
        "[differs] a/modular_a.py:3:9: W301 first in a",
        "[differs] b/modular_b.py:5:5: W301 in b",
        "[differs] c/modular_c.py:1:1: W301 in c",
    ]
