"""The upstream benchmark counts a converted file as deliberately different only when undoing
upstream's changes (unused code dropped, decorators added, statements moved) makes the ASTs equal.
Run: python -m pytest tests/utils/test_bench_upstream_flaws.py -q
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


OURS = """\
from torch import nn


class Router(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_experts = config.num_experts
        self.weight = nn.Parameter(torch.zeros(self.num_experts))
        self.post_init()
        self.scale = config.scale
        self.num_experts = config.num_local_experts
"""

#: what upstream writes: the override's assignment where the base had it (the weight's shape
#: changes), post_init() last
THEIRS = """\
from torch import nn


class Router(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_experts = config.num_local_experts
        self.weight = nn.Parameter(torch.zeros(self.num_experts))
        self.scale = config.scale
        self.post_init()
"""


def modular(tmp_path: Path, source: str = "class Router:\n    pass\n") -> Path:
    """A modular file with `source`: the names it defines are the ones it owns."""
    path = tmp_path / "modular_x.py"
    path.write_text(source, encoding="utf-8")
    return path


def test_statement_moves_of_upstream_are_named(bench: ModuleType, tmp_path: Path) -> None:
    reasons = bench.upstream_flaws(THEIRS, OURS, modular(tmp_path))
    assert reasons == f"{bench.POST_INIT}; {bench.MOVED_UP}"
    only_post_init = THEIRS.replace("config.num_local_experts", "config.num_experts")
    only_post_init = only_post_init.replace(
        "        self.post_init()\n", "        self.num_experts = config.num_local_experts\n        self.post_init()\n"
    )
    assert bench.upstream_flaws(only_post_init, OURS, modular(tmp_path)) == bench.POST_INIT


def test_other_differences_are_not_deliberate(bench: ModuleType, tmp_path: Path) -> None:
    assert bench.upstream_flaws(THEIRS.replace("config.scale", "config.other"), OURS, modular(tmp_path)) == ""
    assert bench.upstream_flaws(THEIRS, OURS.replace("        self.post_init()\n", ""), modular(tmp_path)) == ""


def test_unused_code_ours_keeps_is_dropped_code(bench: ModuleType, tmp_path: Path) -> None:
    ours = textwrap.dedent(OURS).replace("class Router", "logger = 1\n\n\nclass Router")
    path = modular(tmp_path, "logger = 1\n\n\nclass Router:\n    pass\n")
    assert bench.upstream_flaws(THEIRS, ours, path) == f"{bench.DROPPED}; {bench.POST_INIT}; {bench.MOVED_UP}"


def test_an_extra_module_base_upstream_drops_is_named(bench: ModuleType, tmp_path: Path) -> None:
    ours = "class Layer(CheckpointingLayer, nn.Module):\n    def __init__(self, config):\n        nn.Module.__init__(self)\n"
    theirs = "class Layer(CheckpointingLayer):\n    def __init__(self, config):\n        super().__init__()\n"
    path = modular(tmp_path, "class Layer:\n    pass\n")
    assert bench.upstream_flaws(theirs, ours, path) == bench.MODULE_BASE
    assert bench.upstream_flaws(theirs.replace("super().__init__()", "pass"), ours, path) == ""


def test_super_init_moved_first_is_named(bench: ModuleType, tmp_path: Path) -> None:
    ours = "class A(nn.Module):\n    def __init__(self, c):\n        self.kind = c.kind\n        super().__init__()\n        self.x = 1\n"
    theirs = "class A(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n        self.kind = c.kind\n        self.x = 1\n"
    path = modular(tmp_path, "class A:\n    pass\n")
    assert bench.upstream_flaws(theirs, ours, path) == bench.SUPER_FIRST
    local = "kind = c.kind"  # a local the parent's __init__ cannot see: upstream keeps it first
    assert (
        bench.upstream_flaws(
            theirs.replace("self.kind = c.kind", local), ours.replace("self.kind = c.kind", local), path
        )
        == ""
    )


def test_a_selfless_parent_call_upstream_makes_super_is_named(bench: ModuleType, tmp_path: Path) -> None:
    ours = "class P(Backend):\n    def run(self, images):\n        return Backend.run(images, 2)\n"
    theirs = "class P(Backend):\n    def run(self, images):\n        return super().run(images, 2)\n"
    path = modular(tmp_path, "class P:\n    pass\n")
    assert bench.upstream_flaws(theirs, ours, path) == bench.SELFLESS_CALL
    with_self = ours.replace("Backend.run(images", "Backend.run(self, images")
    assert bench.upstream_flaws(theirs, with_self, path) == ""  # an exact call: not upstream's flaw


def test_a_repeated_post_init_upstream_runs_once_is_named(bench: ModuleType, tmp_path: Path) -> None:
    ours = "class M(P):\n    def __init__(self, c):\n        super().__init__(c)\n        self.post_init()\n        self.post_init()\n"
    theirs = "class M(P):\n    def __init__(self, c):\n        super().__init__(c)\n        self.post_init()\n"
    path = modular(tmp_path, "class M:\n    pass\n")
    assert bench.upstream_flaws(theirs, ours, path) == bench.POST_INIT


def test_dumps_put_together_from_statements_equal_ast_dump(bench: ModuleType) -> None:
    """The comparisons dump each statement once and join the dumps: the same text as `ast.dump`."""
    import ast

    for source in (OURS, THEIRS, (REPO / "utils" / "bench_upstream.py").read_text(encoding="utf-8"), ""):
        tree = ast.parse(source)
        dumps = tuple(map(ast.dump, tree.body))
        assert bench.Dumped(tree, dumps).dump == ast.dump(tree)
        names = set(bench.top_level_names(tree))
        dropped = set(sorted(names)[:2])
        undecorated = {key for key, method in bench.methods(tree) if method.decorator_list}
        for chosen in (set(), undecorated):
            assert bench.normalized(tree, dropped, chosen, dumps) == bench.normalized(tree, dropped, chosen)
        assert dumps == tuple(map(ast.dump, tree.body))  # decorators removed for a dump are put back


def test_the_comparison_of_a_file_is_the_same_in_worker_processes(bench: ModuleType, tmp_path: Path) -> None:
    pending = []
    for index, (theirs, ours) in enumerate([(THEIRS, OURS), (OURS, OURS), (THEIRS, OURS.replace("scale", "x"))]):
        result = bench.FileResult(f"x{index}.py", "x/modular_x.py", "converted")
        pending.append((result, theirs, ours, (theirs, ours), modular(tmp_path), True))
    alone = [bench.FileResult(item[0].path, item[0].modular, "converted") for item in pending]
    bench.compare_each([(result, *item[1:]) for result, item in zip(alone, pending, strict=True)], jobs=1)
    bench.compare_each(pending, jobs=2)
    assert [item[0] for item in pending] == alone
    assert [result.theirs for result in alone] == [item[1] for item in pending]
    assert alone[0].deliberate and not alone[2].deliberate


def test_the_transformers_dialect_excuses_no_difference(bench: ModuleType, tmp_path: Path) -> None:
    """In the transformers dialect the converter means to reproduce upstream: a difference the
    python dialect counts as upstream behaviour we deliberately do not copy stays a difference."""
    for excuse in (True, False):
        result = bench.FileResult("x0.py", "x/modular_x.py", "converted")
        done = bench.compared((result, THEIRS, OURS, (THEIRS, OURS), modular(tmp_path), excuse))
        assert not done.ast and bool(done.deliberate) == excuse


def test_the_dialects_print_side_by_side(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    row = {"byte_identical": 1, "ast_identical": 2, "files_refused": 3, "files_traceback": 0, "wall_s": 1.5}
    bench.print_dialects(
        {
            "python": {**row, "drift_warnings": 0, "drift_rules": {}},
            "transformers": {**row, "byte_identical": 9, "drift_warnings": 4, "drift_rules": {"super-unbound": 4}},
        }
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["dialect", "python", "transformers"]
    assert ["byte-identical", "after", "ruff", "1", "9"] in [line.split() for line in lines]
    assert lines[-1].split() == ["super-unbound", "0", "4"]
