"""Proves super() unrolling inside merged classes: `__init__` tails merged (replace in place, append,
`del`), calls bound to parameters (same name, renamed, literal, expression, keyword, default),
returns fitted to the calling statement, `**super_kwargs` signatures, calls that stay calls, and
every refusal (E203, E207, E208) with its reason.

Run: python -m pytest tests/converter/test_unroll.py -q
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from converter import ConversionError
from tests.converter.conftest import block, dedent

Inherit = Callable[..., dict[str, str]]
MODELING = "generated/toy/modeling_toy.py"
TINY = {
    "tiny": {
        "modeling": '''
            import torch
            from torch import nn


            class TinyLayer(nn.Module):
                def __init__(self, size: int, bias: bool = False) -> None:
                    super().__init__()
                    self.size = size
                    self.scaling = self.size**-0.5
                    self.proj = nn.Linear(size, size, bias=bias)
                    self.norm = nn.LayerNorm(size)

                def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
                    """Project, then scale."""
                    y = self.proj(x) * self.scaling
                    return y * scale

                def remember(self, x):
                    self.last = x
                    return x

                def note(self, x):
                    self.last = x

                def pair(self, x):
                    first, second = self.proj(x), x
                    return first, second

                def early(self, x):
                    if x is None:
                        return None
                    return x + 1

                def spread(self, x, **kwargs):
                    return self.proj(x, **kwargs)

                def gated(self, x, gate=0.5, **options):
                    return self.proj(x, **options) * gate

                @torch.no_grad()
                def frozen(self, x):
                    return x

                @property
                def names(self):
                    """The input names."""
                    return [*super().names, f"{LABEL}_ids"] if self.size else []

                @property
                def busy(self):
                    found = self.size > 1
                    return found


            LABEL = "tiny"
            '''
    }
}


def method(source: str, name: str, inherit: Inherit) -> str:
    """The merged method `name` of ToyLayer, converted from `class ToyLayer(TinyLayer):` + source."""
    header = (
        "from torch import nn\n\nfrom generated.tiny.modeling_tiny import TinyLayer\n\n\nclass ToyLayer(TinyLayer):\n"
    )
    text = block(inherit(header + textwrap.indent(dedent(source), "    "), TINY)[MODELING], "ToyLayer")
    start = text.index(f"    def {name}(")
    ends = [end for end in (text.find("\n\n    def ", start), text.find("\n\n    @", start)) if end != -1]
    return dedent(text[start : min(ends) + 1 if ends else len(text)])


def refused(source: str, inherit: Inherit) -> tuple[str, str]:
    with pytest.raises(ConversionError) as caught:
        method(source, "forward", inherit)
    [diagnostic] = caught.value.diagnostics
    return diagnostic.code, diagnostic.message


def test_init_assignment_to_a_base_attribute_replaces_it_in_place_and_new_ones_append(inherit: Inherit) -> None:
    source = """
        def __init__(self, size: int) -> None:
            super().__init__(size)
            self.scaling = 1.0
            self.extra = nn.Identity()
        """
    assert method(source, "__init__", inherit) == dedent(
        """
        def __init__(self, size: int) -> None:
            super().__init__()
            self.size = size
            self.scaling = 1.0
            self.proj = nn.Linear(size, size, bias=False)
            self.norm = nn.LayerNorm(size)
            self.extra = nn.Identity()
        """
    )


def test_init_assignment_that_later_base_code_reads_is_appended_not_moved(inherit: Inherit) -> None:
    source = "def __init__(self, size: int) -> None:\n    super().__init__(size)\n    self.size = 4\n"
    text = method(source, "__init__", inherit)
    assert text.endswith("    self.norm = nn.LayerNorm(size)\n    self.size = 4\n")
    assert text.count("self.size = ") == 2


def test_init_del_removes_the_base_assignment_and_nothing_else(inherit: Inherit) -> None:
    source = "def __init__(self, size: int) -> None:\n    super().__init__(size, bias=True)\n    del self.norm\n"
    assert method(source, "__init__", inherit) == dedent(
        """
        def __init__(self, size: int) -> None:
            super().__init__()
            self.size = size
            self.scaling = self.size**-0.5
            self.proj = nn.Linear(size, size, bias=True)
        """
    )


@pytest.mark.parametrize(
    ("attribute", "why"),
    [("missing", "does not assign it"), ("size", "uses it beyond that one assignment")],
)
def test_del_of_an_attribute_that_cannot_be_removed_exactly_is_e207(
    inherit: Inherit, attribute: str, why: str
) -> None:
    source = f"def __init__(self, size: int) -> None:\n    super().__init__(size)\n    del self.{attribute}\n"
    with pytest.raises(ConversionError) as caught:
        method(source, "__init__", inherit)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (9, 9, "E207")
    assert diagnostic.message == f"cannot delete self.{attribute} exactly: the base __init__ of TinyLayer {why}"


def test_init_assignment_reading_the_attribute_it_replaces_is_appended(inherit: Inherit) -> None:
    source = "def __init__(self, size: int) -> None:\n    super().__init__(size)\n    self.norm = self.norm.float()\n"
    text = method(source, "__init__", inherit)
    assert text.endswith("    self.norm = nn.LayerNorm(size)\n    self.norm = self.norm.float()\n")


@pytest.mark.parametrize(
    ("earlier", "attribute"),
    [
        ("self.scaling = self.norm.eps", "scaling"),  # reassigned (appended: it reads a later attribute)
        ("self.out = self.norm", "norm"),  # read
        ("self.setup()", "norm"),  # a method that may read it
        ("print(self)", "norm"),  # a function that may read it
    ],
)
def test_init_del_after_a_tail_statement_that_may_touch_it_is_kept_in_place(
    inherit: Inherit, earlier: str, attribute: str
) -> None:
    """The base assignment stays, the earlier statement sees it, and `del` runs where it was written."""
    source = f"def __init__(self, size: int) -> None:\n    super().__init__(size)\n    {earlier}\n    del self.{attribute}\n"
    text = method(source, "__init__", inherit)
    assert text.count(f"self.{attribute} = ") == 1 + (earlier.startswith(f"self.{attribute} ="))
    assert text.endswith(f"    self.norm = nn.LayerNorm(size)\n    {earlier}\n    del self.{attribute}\n")


def test_init_del_after_the_tail_replaced_it_in_place_keeps_the_tail_assignment(inherit: Inherit) -> None:
    """The replacing statement still runs (its value may fail or act), then `del`."""
    source = "def __init__(self, size: int) -> None:\n    super().__init__(size)\n    self.proj = int(size)\n    del self.proj\n"
    text = method(source, "__init__", inherit)
    assert text.endswith("    self.proj = int(size)\n    self.norm = nn.LayerNorm(size)\n    del self.proj\n")
    assert "nn.Linear" not in text


def test_init_del_after_an_unrelated_tail_statement_still_removes_the_base_assignment(inherit: Inherit) -> None:
    source = (
        "def __init__(self, size: int) -> None:\n    super().__init__(size)\n    self.gate = 2\n    del self.norm\n"
    )
    text = method(source, "__init__", inherit)
    assert "self.norm" not in text
    assert text.endswith("    self.proj = nn.Linear(size, size, bias=False)\n    self.gate = 2\n")


def test_assigned_call_inlines_the_body_and_assigns_the_returned_value(inherit: Inherit) -> None:
    source = "def forward(self, x, scale=1.0):\n    out = super().forward(x, scale)\n    return out + 1\n"
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, x, scale=1.0):
            y = self.proj(x) * self.scaling
            out = y * scale
            return out + 1
        """
    )


def test_a_parameter_passed_another_variable_or_a_literal_is_replaced_in_the_body(inherit: Inherit) -> None:
    source = "def forward(self, hidden):\n    return super().forward(scale=2.0, x=hidden)\n"
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, hidden):
            y = self.proj(hidden) * self.scaling
            return y * 2.0
        """
    )


def test_an_expression_argument_is_assigned_before_the_body_and_defaults_fill_the_rest(inherit: Inherit) -> None:
    source = "def forward(self, x):\n    return super().forward(x * 2)\n"
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, x):
            x = x * 2
            y = self.proj(x) * self.scaling
            return y * 1.0
        """
    )


def test_a_call_statement_drops_a_final_return_of_a_plain_name(inherit: Inherit) -> None:
    source = "def remember(self, x):\n    super().remember(x)\n    return None\n"
    assert method(source, "remember", inherit) == "def remember(self, x):\n    self.last = x\n    return None\n"


def test_return_of_the_call_keeps_the_base_returns(inherit: Inherit) -> None:
    source = "def early(self, x):\n    return super().early(x)\n"
    assert method(source, "early", inherit) == dedent(
        """
        def early(self, x):
            if x is None:
                return None
            return x + 1
        """
    )


def test_unpassed_kwargs_only_spread_in_the_body_are_dropped(inherit: Inherit) -> None:
    source = "def spread(self, x):\n    return super().spread(x)\n"
    assert method(source, "spread", inherit) == "def spread(self, x):\n    return self.proj(x)\n"


def test_a_method_the_base_class_does_not_define_stays_a_call(inherit: Inherit) -> None:
    source = "def reset(self):\n    super().reset_parameters()\n"
    assert method(source, "reset", inherit) == "def reset(self):\n    super().reset_parameters()\n"


def test_super_kwargs_inherits_the_base_signature_and_adds_to_it(inherit: Inherit) -> None:
    """New keyword-only parameters follow the base's (positional calls reaching the base's
    parameters are a superset of what Python accepts, each call that both accept the same)."""
    source = """
        def forward(self, *, gate: float = 0.5, **super_kwargs):
            out = super().forward(**super_kwargs)
            return out * gate
        """
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, x: torch.Tensor, scale: float = 1.0, *, gate: float = 0.5) -> torch.Tensor:
            y = self.proj(x) * self.scaling
            out = y * scale
            return out * gate
        """
    )


def test_super_kwargs_with_new_positional_parameters_binds_as_python_does(inherit: Inherit) -> None:
    """Python gives positional arguments to the override's own parameters; the base's come only
    by keyword, through **super_kwargs, so they are keyword-only in the merged signature."""
    source = """
        def forward(self, gate: float = 0.5, **super_kwargs):
            out = super().forward(**super_kwargs)
            return out * gate
        """
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, gate: float = 0.5, *, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
            y = self.proj(x) * self.scaling
            out = y * scale
            return out * gate
        """
    )


def test_super_kwargs_keeps_comments_after_the_parameters(inherit: Inherit) -> None:
    source = """
        def forward(
            self,
            *,
            gate: float = 0.5,  # how much passes
            **super_kwargs,
        ):
            out = super().forward(**super_kwargs)
            return out * gate
        """
    assert (
        "    scale: float = 1.0,\n    *,\n    gate: float = 0.5,  # how much passes\n) -> torch.Tensor:\n"
        in method(source, "forward", inherit)
    )


def test_super_kwargs_keeps_the_override_spelling_of_self(inherit: Inherit) -> None:
    source = """
        def forward(this, *, gate: float = 0.5, **super_kwargs):
            out = super().forward(**super_kwargs)
            return out * gate + this.scaling
        """
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(this, x: torch.Tensor, scale: float = 1.0, *, gate: float = 0.5) -> torch.Tensor:
            y = this.proj(x) * this.scaling
            out = y * scale
            return out * gate + this.scaling
        """
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "def forward(self, x):\n    if x is None:\n        return x\n    return super().early(x) + 1\n",
            "cannot unroll super().early() in forward exactly: it is part of an expression or a block",
        ),
        (
            "def forward(self, x):\n    out = super().early(x)\n    return out\n",
            "cannot unroll super().early() in forward exactly: the base body returns early",
        ),
        (
            "def forward(self, *xs):\n    return super().forward(*xs)\n",
            "cannot unroll super().forward() in forward exactly: the arguments *xs cannot be bound statically",
        ),
        (
            "def forward(self, x):\n    def inner():\n        return super().forward(x)\n\n    return inner()\n",
            "cannot unroll super().forward() in forward exactly: it is inside a nested function",
        ),
        (
            "def forward(self, x):\n    y = 3\n    out = super().forward(x)\n    return out + y\n",
            "cannot unroll super().forward() in forward exactly: the base body sets 'y', which this method uses after the call",
        ),
        (
            "def forward(self, x):\n    out = super().forward(x * 2)\n    return out + x\n",
            "cannot unroll super().forward() in forward exactly: it gives the base parameter 'x' another value than "
            "this method's 'x', used after the call",
        ),
        (
            "def forward(self, x):\n    return super().forward(x, 2.0, 3)\n",
            "cannot unroll super().forward() in forward exactly: it passes 3 positional arguments and the base "
            "takes at most 2 (besides self)",
        ),
        (
            "def forward(self, x, **kwargs):\n    return super().forward(x, **kwargs)\n",
            "cannot unroll super().forward() in forward exactly: it passes **kwargs, and the base takes no **kwargs",
        ),
        (
            "def forward(self, x):\n    return super().forward(x, gate=2)\n",
            "cannot unroll super().forward() in forward exactly: it passes keywords the base does not take",
        ),
    ],
)
def test_calls_that_cannot_be_unrolled_exactly_are_e203(inherit: Inherit, source: str, message: str) -> None:
    assert refused(source, inherit) == ("E203", message)


def test_a_result_assigned_to_the_names_the_base_returns_adds_no_self_assignment(inherit: Inherit) -> None:
    source = "def forward(self, x):\n    first, second = super().pair(x)\n    return first * second\n"
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, x):
            first, second = self.proj(x), x
            return first * second
        """
    )


def test_a_call_in_a_with_block_is_unrolled_inside_the_block(inherit: Inherit) -> None:
    source = """
        def forward(self, x):
            with torch.no_grad():
                out = super().forward(x, scale=2.0)
                out = out + 1
            return out
        """
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, x):
            with torch.no_grad():
                y = self.proj(x) * self.scaling
                out = y * 2.0
                out = out + 1
            return out
        """
    )


def test_a_returned_call_in_nested_with_blocks_keeps_its_return(inherit: Inherit) -> None:
    source = """
        def forward(self, x):
            with torch.no_grad(), torch.enable_grad():
                with torch.no_grad():
                    return super().forward(x)
        """
    assert method(source, "forward", inherit).endswith(
        "        with torch.no_grad():\n            y = self.proj(x) * self.scaling\n            return y * 1.0\n"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "def forward(self, x):\n    with torch.no_grad():\n        out = super().forward(x)\n    return out + y\n",
            "cannot unroll super().forward() in forward exactly: this method reads 'y', a local variable of the base "
            "body, which Python looks up as a global here",
        ),
        (
            "def forward(self, x):\n    with torch.no_grad():\n        return super().remember(x) if x else x\n",
            "cannot unroll super().remember() in forward exactly: it is part of an expression or a block",
        ),
        (
            "def forward(self, x):\n    with self.ctx(super().forward(x)):\n        return x\n",
            "cannot unroll super().forward() in forward exactly: it is part of an expression or a block",
        ),
        (
            "def forward(self, x):\n    with torch.no_grad():\n        return super().note(x)\n    return x\n",
            "cannot unroll super().note() in forward exactly: the base body can fall through",
        ),
    ],
)
def test_calls_in_a_with_block_that_cannot_be_unrolled_exactly_are_e203(
    inherit: Inherit, source: str, message: str
) -> None:
    assert refused(source, inherit) == ("E203", message)


def test_self_passed_again_to_super_is_e203_naming_it(inherit: Inherit) -> None:
    source = "def remember(self, x):\n    return super().remember(self, x)\n"
    with pytest.raises(ConversionError) as caught:
        method(source, "remember", inherit)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message.endswith("it passes 2 positional arguments and the base takes at most 1 (besides self)")
    assert diagnostic.fix == "remove self: super().remember(...) already passes it"


@pytest.mark.parametrize(
    ("call", "fix"),
    [
        ("super().missing(**super_kwargs)", "write the full signature"),
        (
            "super().missing(self, **super_kwargs)",
            "write the full signature, and do not pass self to super().missing(): it passes it already",
        ),
    ],
)
def test_super_kwargs_over_a_method_the_base_lacks_is_e208(inherit: Inherit, call: str, fix: str) -> None:
    with pytest.raises(ConversionError) as caught:
        method(f"def missing(self, **super_kwargs):\n    return {call}\n", "missing", inherit)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E208"
    assert diagnostic.message == (
        "ToyLayer.missing extends TinyLayer.missing with **super_kwargs, but TinyLayer defines no missing"
    )
    assert diagnostic.fix == fix


def test_init_in_a_with_block_is_e203(inherit: Inherit) -> None:
    source = "def __init__(self, size):\n    with torch.no_grad():\n        super().__init__(size)\n"
    with pytest.raises(ConversionError) as caught:
        method(source, "__init__", inherit)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E203",
        "cannot unroll super().__init__() in __init__ exactly: it is inside a with block",
    )


def test_a_local_the_base_body_sets_may_be_rebound_after_the_call(inherit: Inherit) -> None:
    source = "def forward(self, x):\n    out = super().forward(x)\n    y = out * 2\n    return y + 1\n"
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, x):
            y = self.proj(x) * self.scaling
            out = y * 1.0
            y = out * 2
            return y + 1
        """
    )


@pytest.mark.parametrize(
    "tail",
    ["    y = y + 1\n    return y\n", "    if x:\n        y = 2\n    return out + y\n"],
)
def test_a_local_the_base_body_sets_read_before_it_is_rebound_is_e203(inherit: Inherit, tail: str) -> None:
    source = "def forward(self, x):\n    out = super().forward(x)\n" + tail
    assert refused(source, inherit) == (
        "E203",
        "cannot unroll super().forward() in forward exactly: the base body sets 'y', which this method uses after the call",
    )


@pytest.mark.parametrize(
    "tail",
    [
        "    y, z = out, 1\n    return y + z\n",
        "    if x is not None:\n        y = out * 2\n        out = y\n    return out\n",
        "    if x is None:\n        pass\n    else:\n        y = 1\n        out = out + y\n    return out\n",
    ],
)
def test_a_base_local_rebound_in_a_tuple_or_a_branch_before_any_read_is_exact(inherit: Inherit, tail: str) -> None:
    source = "def forward(self, x):\n    out = super().forward(x)\n" + tail
    assert method(source, "forward", inherit).endswith(tail)


def test_a_loop_variable_rebinding_a_base_local_is_exact_unless_read_after_the_loop(inherit: Inherit) -> None:
    source = "def forward(self, x):\n    out = super().forward(x)\n    for y in range(2):\n        out = out + y\n    return out\n"
    assert "    for y in range(2):\n        out = out + y\n    return out\n" in method(source, "forward", inherit)
    source = (
        "def forward(self, x):\n    out = super().forward(x)\n    for y in []:\n        pass\n    return out + y\n"
    )
    assert refused(source, inherit)[1].endswith("the base body sets 'y', which this method uses after the call")


def test_reading_a_local_of_the_base_body_is_e203(inherit: Inherit) -> None:
    source = "def forward(self, x):\n    out = super().forward(x)\n    return out + y\n"
    assert refused(source, inherit) == (
        "E203",
        "cannot unroll super().forward() in forward exactly: this method reads 'y', a local variable of the base body,"
        " which Python looks up as a global here",
    )


def test_del_of_a_base_local_is_e207(inherit: Inherit) -> None:
    source = "def forward(self, x):\n    out = super().forward(x)\n    del y\n    return out\n"
    with pytest.raises(ConversionError) as caught:
        method(source, "forward", inherit)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E207"
    assert diagnostic.message.startswith("del y: y is a local variable of TinyLayer.forward, not of this method")
    assert "remove `del y`" in diagnostic.fix


def test_parameters_a_spread_mapping_may_carry_are_popped_from_a_new_dict(inherit: Inherit) -> None:
    source = "def forward(self, x, **kwargs):\n    return super().gated(x, **kwargs)\n"
    assert method(source, "forward", inherit) == dedent(
        """
        def forward(self, x, **kwargs):
            options = {**kwargs}
            gate = options.pop("gate", 0.5)
            return self.proj(x, **options) * gate
        """
    )


def test_a_base_body_reading_a_global_the_override_binds_locally_is_e203(inherit: Inherit) -> None:
    source = "def __init__(self, size):\n    nn = None\n    super().__init__(size)\n"
    with pytest.raises(ConversionError) as caught:
        method(source, "__init__", inherit)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E203"
    assert "reads the module-level name 'nn', which this method binds locally" in diagnostic.message


def test_super_kwargs_used_other_than_in_the_call_is_e208(inherit: Inherit) -> None:
    source = (
        "def forward(self, **super_kwargs):\n    print(super_kwargs)\n    return super().forward(**super_kwargs)\n"
    )
    assert refused(source, inherit) == (
        "E208",
        "ToyLayer.forward uses super_kwargs other than in super().forward(**super_kwargs)",
    )


def test_a_super_kwargs_signature_repeating_a_base_parameter_is_e208(inherit: Inherit) -> None:
    source = "def forward(self, x, **super_kwargs):\n    return super().forward(**super_kwargs)\n"
    assert refused(source, inherit) == ("E208", "ToyLayer.forward repeats the base parameter 'x'")


def test_a_new_parameter_without_default_comes_first_as_python_binds_it(inherit: Inherit) -> None:
    source = (
        "def forward(self, gate, **super_kwargs):\n    out = super().forward(**super_kwargs)\n    return out * gate\n"
    )
    text = method(source, "forward", inherit)
    assert text.startswith("def forward(self, gate, *, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:\n")


def test_a_one_line_override_is_unrolled_like_any_other(inherit: Inherit) -> None:
    source = "def spread(self, x): return super().spread(x)\n"
    assert method(source, "spread", inherit) == "def spread(self, x):\n    return self.proj(x)\n"


def test_a_read_of_a_base_property_becomes_the_expression_its_getter_returns(inherit: Inherit) -> None:
    source = """
        @property
        def names(self):
            return super().names + ["mask"] * 2
        """
    assert method(source, "names", inherit) == dedent(
        """
        def names(self):
            return ([*super().names, f"{LABEL}_ids"] if self.size else []) + ["mask"] * 2
        """
    )


def test_a_base_property_read_in_a_plain_method_or_a_branch_is_inlined_too(inherit: Inherit) -> None:
    source = """
        def forward(self, x):
            if x is not None:
                return super().names
            return []
        """
    assert 'return [*super().names, f"{LABEL}_ids"] if self.size else []' in method(source, "forward", inherit)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "def forward(self, x):\n    return super().busy\n",
            "cannot unroll super().method exactly: TinyLayer.busy is a property whose body is more than one "
            "`return <expr>`",
        ),
        (
            "def forward(self, x):\n    LABEL = 'x'\n    return super().names\n",
            "cannot unroll super().method exactly: the base property names cannot be read here exactly (it is in a "
            "nested function, `self` is spelled otherwise, or the property reads a module-level name this method "
            "binds locally)",
        ),
        (
            "def forward(self, x):\n    return (lambda: super().names)()\n",
            "cannot unroll super().method exactly: the base property names cannot be read here exactly (it is in a "
            "nested function, `self` is spelled otherwise, or the property reads a module-level name this method "
            "binds locally)",
        ),
        (
            "def forward(self, x):\n    return super().remember\n",
            "cannot unroll super().method exactly: it is referenced without being called",
        ),
    ],
)
def test_property_reads_that_cannot_be_inlined_exactly_are_e203(inherit: Inherit, source: str, message: str) -> None:
    assert refused(source, inherit) == ("E203", message)
