"""Apex: Toy with Tiny's `double` again; it sorts before its bases, which this run converts first."""

from generated.tiny.modeling_tiny import double  # noqa: F401 - replaces Toy's double everywhere
from generated.toy.configuration_toy import ToyConfig
from generated.toy.modeling_toy import ToyModel


class ApexConfig(ToyConfig):
    model_type = "apex"
    scale = 2.0


class ApexModel(ToyModel):
    pass
