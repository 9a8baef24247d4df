"""Upstream's hub-kernel functions: a base's top-level function decorated with
`@use_kernel_func_from_hub_with_fallback(...)` is carried over as written, never renamed.

Upstream's generated files keep such a function's name, its body and the decorator's strings (the
kernel and package names, `"mamba_ssm"`) in every model built on the base: bamba's
`mamba2_split_conv1d_scan_combined`, jamba's `mamba_selective_scan(..., use_mambapy=...)`, and every
reference to the function keeps the base's name. As Python, the modular file's imported function is
the base's own object under that name, so keeping it as written changes nothing: no drift.
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from converter.syntax.names import dotted_name

#: decorators whose functions upstream keeps verbatim
KERNEL_DECORATORS = frozenset({"use_kernel_func_from_hub_with_fallback"})


def kernel_functions(modules: Iterable[cst.Module]) -> frozenset[str]:
    """The names of the top-level functions of `modules` that a hub-kernel decorator wraps."""
    return frozenset(
        statement.name.value
        for module in modules
        for statement in module.body
        if isinstance(statement, cst.FunctionDef) and any(is_kernel(d) for d in statement.decorators)
    )


def is_kernel(decorator: cst.Decorator) -> bool:
    """`@use_kernel_func_from_hub_with_fallback("name", "package")` (called or bare)."""
    target = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
    if not isinstance(target, (cst.Name, cst.Attribute)):
        return False
    return dotted_name(target).rsplit(".", 1)[-1] in KERNEL_DECORATORS
