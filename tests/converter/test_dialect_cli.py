"""`--dialect transformers` and `--lint` on the command line (converter/run.py, converter/dialect/).

python -m pytest tests/converter/test_dialect_cli.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from converter import run
from converter.dialect import RULES, collecting, drift_at, rule_of
from converter.layout import Layout
from converter.read.parse import parse_modular
from tests.converter.dialect_tree import convert_tree, write_tree

BASE = """\
from torch import nn


class TinyMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, 4)
"""
MODULAR = """\
from ..tiny.modeling_tiny import TinyMLP


class SmallMLP(TinyMLP):
    pass
"""


def test_the_dialect_needs_a_tree(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--dialect", "transformers", "--all"])
    assert exit_info.value.code == 2
    assert "--dialect transformers is for transformers' own files" in capsys.readouterr().err


def test_lint_without_drift_exits_0_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": MODULAR})
    assert run.main(["--tree", str(tmp_path), "--dialect", "transformers", "--lint", "--all"]) == 0
    assert "no drift warnings" in capsys.readouterr().err
    assert not (tmp_path / "small" / "modeling_small.py").exists()


def test_a_clean_file_converts_alike_in_both_dialects(tmp_path: Path) -> None:
    files = {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": MODULAR}
    python, none = convert_tree(tmp_path / "python", files, dialect="python")
    transformers, warnings = convert_tree(tmp_path / "transformers", files)
    assert python == transformers and none == warnings == []


def test_every_rule_has_a_code_name_and_fix() -> None:
    assert all(code == rule.code and code.startswith("W3") and rule.name and rule.fix for code, rule in RULES.items())
    assert len({rule.name for rule in RULES.values()}) == len(RULES)
    with pytest.raises(ValueError, match="no dialect rule 'W999'"):
        rule_of("W999")


def test_drifts_are_collected_only_inside_a_collecting_block(tmp_path: Path) -> None:
    (modular,) = write_tree(tmp_path, {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": MODULAR})
    parsed = parse_modular(modular, tmp_path, Layout(tree=True, dialect="transformers"))
    drift_at(parsed, 4, 1, "W301", "ignored: nobody collects")
    with collecting() as found:
        drift_at(parsed, 4, 1, "W301", "super().__init__(config) unrolled without binding")
        drift_at(parsed, 4, 1, "W301", "super().__init__(config) unrolled without binding")  # recorded once
    assert [(w.path, w.line, w.col, w.code) for w in found] == [("small/modular_small.py", 4, 1, "W301")]
    assert found[0].fix == RULES["W301"].fix


UNBOUND = """\
from ..tiny.modeling_tiny import TinyMLP


class SmallMLP(TinyMLP):
    def __init__(self, config):
        super().__init__()
        self.extra = 1
"""


def test_lint_prints_each_drift_with_its_rule_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": UNBOUND})
    assert run.main(["--tree", str(tmp_path), "--dialect", "transformers", "--lint", "--all"]) == 1
    captured = capsys.readouterr()
    assert "small/modular_small.py:6:9: W301 " in captured.out and "no argument for 'config'" in captured.out
    assert "[super-unbound]" in captured.out and f"fix: {RULES['W301'].fix}" in captured.out
    assert "1 drift warning: 1 super-unbound" in captured.err
    assert not (tmp_path / "small" / "modeling_small.py").exists()
    # Converting writes the files and prints the same drift on stderr; the python dialect refuses.
    assert run.main(["--tree", str(tmp_path), "--dialect", "transformers", "--all"]) == 0
    assert "W301" in capsys.readouterr().err
    assert "self.up = nn.Linear(config.hidden_size, 4)" in (tmp_path / "small" / "modeling_small.py").read_text()
    assert run.main(["--tree", str(tmp_path), "--all", "--check"]) == 1
    assert "E203" in capsys.readouterr().err
