"""The modular converter: unrolls `modular/modular_<model>.py` into standalone files under `generated/`.

    from converter import convert_files
    outputs = convert_files([Path("modular/modular_llama.py")], repo_root)   # path -> text, nothing written

A modular file may inherit from generated models (`from generated.llama.modeling_llama import
LlamaMLP`); see converter/pipeline/convert.py for the pass list, converter/diagnostics.py for the error
codes and converter/run.py for the command line (`--all`, `-j`, `--check`, `--diff`).
"""

from converter.diagnostics import ConversionError, Diagnostic
from converter.pipeline.convert import convert_files, convert_models

__all__ = ["ConversionError", "Diagnostic", "convert_files", "convert_models"]
