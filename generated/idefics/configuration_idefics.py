# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics.py
# ----------------------------------------------------------------------------------------------------

from typing import ClassVar

from runtime.configuration_utils import PretrainedConfig
from runtime.rope import DEFAULT_THETA, standardize_rope_parameters


class IdeficsVisionConfig(PretrainedConfig):
    """The vision tower: CLIP's vision transformer; the defaults are transformers' (idefics-9b
    and -80b use CLIP ViT-H/14: 1280 wide, 32 layers, 224-pixel images).

    config.json names the width `embed_dim`; `hidden_size` is another name for it, so CLIP's
    modules read it unchanged.
    """

    model_type = "idefics_vision"
    attribute_map = {"hidden_size": "embed_dim"}

    embed_dim: int = 768
    image_size: int = 224
    intermediate_size: int = 5120
    patch_size: int = 14
    num_hidden_layers: int = 32
    num_attention_heads: int = 16
    num_channels: int = 3
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def validate(self) -> None:
        sizes = ("embed_dim", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size")
        for name in (*sizes, "image_size", "num_channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.embed_dim % self.num_attention_heads != 0:
            raise ValueError(
                f"embed_dim={self.embed_dim} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


class IdeficsPerceiverConfig(PretrainedConfig):
    """The Perceiver resampler: `resampler_depth` blocks in which `resampler_n_latents` learned
    latents attend to each image's features; it works in the vision width. The model reads
    `IdeficsConfig.use_resampler`, not this config's (transformers keeps both)."""

    model_type = "idefics_perciever"  # sic: transformers' spelling, written in config.json

    use_resampler: bool = False
    resampler_n_latents: int = 64
    resampler_depth: int = 6
    resampler_n_heads: int = 16
    resampler_head_dim: int = 96
    qk_layer_norms_perceiver: bool = False

    def validate(self) -> None:
        for name in ("resampler_n_latents", "resampler_depth", "resampler_n_heads", "resampler_head_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")


class IdeficsConfig(PretrainedConfig):
    """Configuration of an IDEFICS model: a Llama decoder (its fields at the top level, as
    transformers has them), a CLIP vision tower (`vision_config`), an optional Perceiver resampler
    (`use_resampler`, `perceiver_config`) and a gated cross-attention layer before every
    `cross_layer_interval`-th decoder layer; the defaults describe idefics-9b's text side.

    - `additional_vocab_size` new tokens get their own, always trainable, embedding rows and
      output features (IdeficsDecoupledEmbedding, IdeficsDecoupledLinear).
    - The tanh gates `alpha_cross_attn` and `alpha_dense` are one number (`alpha_type="float"`) or
      one per feature (`"vector"`), initialised by `alpha_initializer`: "zeros", "ones", or
      "normal" (also "gaussian", "random") with std `alphas_initializer_range`.
    - `qk_layer_norms`: RMSNorm on each head's queries and keys in the cross-attention.
    - `freeze_text_layers` (decoder layers and final norm, and the base vocabulary's embeddings),
      `freeze_vision_layers`, `freeze_lm_head`: turn off requires_grad when the model is built;
      the `*_module_exceptions` lists ("LayerNorm", "Linear", "Embedding") keep those module
      types trainable. As in transformers, loading a checkpoint makes every parameter trainable
      again; `model.model.freeze_relevant_params()` applies the options then.
    """

    model_type = "idefics"
    default_theta: ClassVar[float] = DEFAULT_THETA

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    use_cache: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    tie_word_embeddings: bool = False
    rope_parameters: dict | None = None
    sub_configs = {"vision_config": IdeficsVisionConfig, "perceiver_config": IdeficsPerceiverConfig}
    additional_vocab_size: int = 0
    dropout: float = 0.0
    alpha_initializer: str = "zeros"
    alphas_initializer_range: float = 0.0
    alpha_type: str = "float"
    cross_layer_interval: int = 1
    qk_layer_norms: bool = False
    freeze_text_layers: bool = True
    freeze_text_module_exceptions: list | tuple = ()
    freeze_lm_head: bool = False
    freeze_vision_layers: bool = True
    freeze_vision_module_exceptions: list | tuple = ()
    use_resampler: bool = False
    vision_config: PretrainedConfig | None = None
    perceiver_config: PretrainedConfig | None = None

    def derive(self) -> None:
        self.rope_parameters = standardize_rope_parameters(
            self.rope_parameters,
            self.extra_fields,
            self.max_position_embeddings,
            default_theta=getattr(self, "rope_theta", self.default_theta),
        )

    def validate(self) -> None:
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        for name in (*sizes, "cross_layer_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.additional_vocab_size < 0:
            raise ValueError(f"additional_vocab_size={self.additional_vocab_size} must not be negative")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )
        # transformers builds num_hidden_layers // cross_layer_interval cross-attention layers but
        # runs one before every cross_layer_interval-th decoder layer: an index error otherwise
        if self.num_hidden_layers % self.cross_layer_interval != 0:
            raise ValueError(
                f"num_hidden_layers={self.num_hidden_layers} is not a multiple of "
                f"cross_layer_interval={self.cross_layer_interval}"
            )


__all__ = ["IdeficsConfig", "IdeficsPerceiverConfig", "IdeficsVisionConfig"]
