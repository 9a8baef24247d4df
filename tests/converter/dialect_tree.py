"""A tiny transformers-style tree for the transformers dialect's tests (converter/dialect/).

    outputs, warnings = convert_tree(tmp_path, {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": MODULAR})
    outputs["small/modeling_small.py"]          # the formatted text
    [w.code for w in warnings]                  # the drift warnings, in source order

`files` are written under `root` (each model directory gets an empty `__init__.py`); every
`*/modular_*.py` among them is converted in the transformers dialect unless `dialect` says otherwise.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from converter.diagnostics import Diagnostic
from converter.layout import Layout
from converter.pipeline.convert import convert_models


def write_tree(root: Path, files: Mapping[str, str]) -> list[Path]:
    """Write `files` (dedented) under `root`; the modular files among them, sorted."""
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        (target.parent / "__init__.py").touch()
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    return sorted(root / path for path in files if Path(path).name.startswith("modular_"))


def convert_tree(
    root: Path, files: Mapping[str, str], dialect: str = "transformers"
) -> tuple[dict[str, str], list[Diagnostic]]:
    """(every output file by path relative to `root`, the drift warnings of the run)."""
    modular = write_tree(root, files)
    models = convert_models(modular, root, layout=Layout(tree=True, dialect=dialect))
    outputs = {file.path: file.text for model in models for file in model.files}
    return outputs, [warning for model in models for warning in model.warnings]
