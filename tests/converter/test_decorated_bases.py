"""Proves super() calls to decorated base methods (converter/merge/decorators.py): documentation-only
decorators never block inlining and are kept when the override has none; a pass-through override
becomes the base method under the base's decorators; a nestable decorator the override repeats
lets the body inline; everything else is E203 with the reason.

Run: python -m pytest tests/converter/test_decorated_bases.py -q
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest
import torch

from converter import ConversionError
from tests.converter.conftest import block, dedent

Inherit = Callable[..., dict[str, str]]
MODELING = "generated/toy/modeling_toy.py"
TINY = {
    "tiny": {
        "modeling": '''
            import functools

            import torch
            from torch import nn


            def auto_docstring(function):
                return function


            def as_tuple(function):
                @functools.wraps(function)
                def wrapper(self, *args, **kwargs):
                    return tuple(function(self, *args, **kwargs))

                return wrapper


            class TinyLayer(nn.Module):
                def __init__(self, size: int) -> None:
                    super().__init__()
                    self.proj = nn.Linear(size, size)

                @as_tuple
                @auto_docstring
                def forward(self, x, scale=1.0, **kwargs):
                    """Project, then scale."""
                    y = self.proj(x)
                    return [y * scale, y]

                @as_tuple
                @auto_docstring
                def listed(self, x):
                    return [x]

                @auto_docstring
                def describe(self, x):
                    return x + 1

                @torch.no_grad()
                def reset(self, value):
                    self.proj.weight.fill_(value)

                @torch.no_grad()
                def clear(self, value):
                    self.proj.weight.mul_(value)
                    return torch.is_grad_enabled()

                @staticmethod
                def make(size):
                    return size * 2
            '''
    }
}


def toy_layer(source: str, inherit: Inherit) -> str:
    """ToyLayer converted from `class ToyLayer(TinyLayer):` + source."""
    header = "from generated.tiny.modeling_tiny import TinyLayer\n\n\nclass ToyLayer(TinyLayer):\n"
    return block(inherit(header + textwrap.indent(dedent(source), "    "), TINY)[MODELING], "ToyLayer")


def refused(source: str, inherit: Inherit) -> tuple[str, str]:
    with pytest.raises(ConversionError) as caught:
        toy_layer(source, inherit)
    [diagnostic] = caught.value.diagnostics
    return diagnostic.code, diagnostic.message


def test_a_pass_through_override_becomes_the_base_method_under_its_decorators(inherit: Inherit) -> None:
    source = '''
        def forward(self, **super_kwargs):
            """Toy docs."""
            return super().forward(**super_kwargs)
        '''
    assert dedent(
        '''
        @as_tuple
        @auto_docstring
        def forward(self, x, scale=1.0, **kwargs):
            """Toy docs."""
            y = self.proj(x)
            return [y * scale, y]
        '''
    ) in dedent(toy_layer(source, inherit).split("\n", 1)[1])


def test_explicit_arguments_passed_on_unchanged_are_a_pass_through(inherit: Inherit) -> None:
    source = """
        @auto_docstring
        def forward(self, x, scale=1.0, **kwargs):
            return super().forward(x, scale=scale, **kwargs)
        """
    text = toy_layer(source, inherit)
    assert "    @auto_docstring\n    @as_tuple\n    def forward(self, x, scale=1.0, **kwargs):\n" in text


def test_a_documentation_only_decorator_does_not_block_inlining_and_is_kept(inherit: Inherit) -> None:
    source = """
        def describe(self, x):
            out = super().describe(x)
            return out * 2
        """
    assert "    @auto_docstring\n    def describe(self, x):\n        out = x + 1\n        return out * 2\n" in (
        toy_layer(source, inherit)
    )


def test_a_nestable_decorator_the_override_repeats_lets_the_body_inline(inherit: Inherit) -> None:
    source = """
        @torch.no_grad()
        def reset(self, value):
            super().reset(value)
            self.proj.bias.fill_(value)
        """
    assert dedent(
        """
        @torch.no_grad()
        def reset(self, value):
            self.proj.weight.fill_(value)
            self.proj.bias.fill_(value)
        """
    ) in dedent(toy_layer(source, inherit).split("\n", 1)[1])


def test_a_context_manager_decorator_the_override_lacks_wraps_the_inlined_body(inherit: Inherit) -> None:
    source = """
        def reset(self, scale):
            super().reset(scale * 2)
            self.proj.bias.data.fill_(scale)
        """
    assert dedent(
        """
        def reset(self, scale):
            value = scale * 2
            with torch.no_grad():
                self.proj.weight.fill_(value)
            self.proj.bias.data.fill_(scale)
        """
    ) in dedent(toy_layer(source, inherit).split("\n", 1)[1])


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "def forward(self, x, scale=1.0, **kwargs):\n    out = super().forward(x, scale, **kwargs)\n    return out[0]\n",
            "cannot unroll super().forward() in forward exactly: TinyLayer.forward is decorated (@as_tuple), "
            "which inlining its body here would drop",
        ),
        (
            "def forward(self, x, scale=2.0, **kwargs):\n    return super().forward(x, scale=scale, **kwargs)\n",
            "cannot unroll super().forward() in forward exactly: TinyLayer.forward is decorated (@as_tuple), "
            "which inlining its body here would drop",
        ),
        (
            "@as_tuple\ndef forward(self, **super_kwargs):\n    return super().forward(**super_kwargs)\n",
            "cannot unroll super().forward() in forward exactly: the override repeats @as_tuple, "
            "which TinyLayer.forward applies already, so it runs twice",
        ),
        (
            "def forward(self, x, scale=1.0, **kwargs):\n    return super().listed(x)\n",
            "cannot unroll super().listed() in forward exactly: TinyLayer.listed is decorated (@as_tuple), "
            "which inlining its body here would drop",
        ),
        (
            "def forward(self, **super_kwargs):\n    super().forward(**super_kwargs)\n",
            "cannot unroll super().forward() in forward exactly: it discards the value TinyLayer.forward returns, "
            "so the override returns None",
        ),
        (
            "@staticmethod\ndef forward(size):\n    return super().make(size)\n",
            "cannot unroll super().make() in forward exactly: TinyLayer.make is a staticmethod: "
            "super() there has no instance to start from",
        ),
    ],
)
def test_decorators_that_inlining_would_drop_are_e203(inherit: Inherit, source: str, message: str) -> None:
    assert refused(source, inherit) == ("E203", message)


@pytest.mark.parametrize(
    ("source", "fix"),
    [
        (
            "def forward(self, x, scale=2.0, **kwargs):\n    return super().forward(x, scale=scale, **kwargs)\n",
            "override the whole method, or give it TinyLayer.forward's parameters `(self, x, scale=1.0, **kwargs)` "
            "and make `return super().forward(x, scale, **kwargs)` its only statement",
        ),
        (
            "def forward(self, x, scale=1.0, **kwargs):\n    return super().listed(x)\n",
            "override the whole method; only listed itself may reach TinyLayer.listed, as "
            "`return super().listed(x)` alone",
        ),
    ],
)
def test_a_refused_decorated_base_names_the_form_that_converts(inherit: Inherit, source: str, fix: str) -> None:
    with pytest.raises(ConversionError) as caught:
        toy_layer(source, inherit)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.fix == fix
    suggested = "def forward(self, x, scale=1.0, **kwargs):\n    return super().forward(x, scale, **kwargs)\n"
    assert "@as_tuple" in toy_layer(suggested, inherit)  # the form the fix names converts


def test_the_unrolled_methods_behave_like_the_modular_class(inherit: Inherit) -> None:
    """Executed side by side: the modular class over the base module, and the generated module."""
    source = dedent(
        '''
        class ToyLayer(TinyLayer):
            def forward(self, **super_kwargs):
                """Toy docs."""
                return super().forward(**super_kwargs)

            def describe(self, x):
                out = super().describe(x)
                return out * 2

            @torch.no_grad()
            def reset(self, value):
                super().reset(value)
                self.proj.bias.fill_(value)

            def clear(self, scale):
                inside = super().clear(scale * 2)
                return inside, torch.is_grad_enabled()
        '''
    )
    header = "import torch\n\nfrom generated.tiny.modeling_tiny import TinyLayer\n\n\n"
    generated: dict[str, object] = {}
    exec(compile(inherit(header + source, TINY)[MODELING], "generated", "exec"), generated)
    overlay: dict[str, object] = {}
    exec(compile(dedent(TINY["tiny"]["modeling"]), "tiny", "exec"), overlay)
    exec(compile(source, "modular", "exec"), overlay)
    results = []
    for namespace in (overlay, generated):
        torch.manual_seed(0)
        layer = namespace["ToyLayer"](3)
        x = torch.randn(2, 3)
        forward = layer(x=x, scale=0.5)
        layer.reset(0.25)
        modes = layer.clear(3.0)
        results.append((forward, layer.describe(5), layer.proj.weight.clone(), layer.proj.bias.clone(), modes))
    (ours, theirs) = results[1], results[0]
    assert isinstance(ours[0], tuple) and isinstance(theirs[0], tuple)
    assert all(torch.equal(a, b) for a, b in zip(ours[0], theirs[0], strict=True))
    assert ours[1] == theirs[1] == 12
    assert torch.equal(ours[2], theirs[2]) and torch.equal(ours[3], theirs[3])
    assert ours[4] == theirs[4] == (False, True)
