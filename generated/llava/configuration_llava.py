# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava.py instead, then regenerate with
#     python converter/run.py modular/modular_llava.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class LlavaConfig(PretrainedConfig):
    """Configuration of a LLaVA model; the defaults describe llava-1.5-7b (CLIP ViT-L/14 at 336
    pixels, Llama text model).

    `vision_config` and `text_config` are any model types the runtime's auto registry knows
    (`clip_vision_model`, `siglip_vision_model`; `llama`, `mistral`, `qwen2`, ...).
    `vision_feature_layer` picks the vision hidden state(s) the projector reads (an index into
    (embeddings, layer 1, ..., layer N), or a list of them, concatenated on the feature axis);
    `vision_feature_select_strategy` "default" drops the class token, "full" keeps it.
    `image_token_id` is another name for `image_token_index`.
    """

    model_type = "llava"
    attribute_map = {"image_token_id": "image_token_index"}
    sub_configs = {"vision_config": "clip_vision_model", "text_config": "llama"}
    sub_config_defaults = {
        "vision_config": {
            **{"intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 336},
            **{"num_hidden_layers": 24, "num_attention_heads": 16, "vocab_size": 32000, "projection_dim": 768},
        }
    }

    vision_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None
    image_token_index: int = 32000
    image_seq_length: int = 576
    projector_hidden_act: str = "gelu"
    vision_feature_select_strategy: str = "default"
    vision_feature_layer: int | list[int] = -2
    multimodal_projector_bias: bool = True
    tie_word_embeddings: bool = False

    def derive(self) -> None:
        # as transformers: older checkpoints say `tie_word_embeddings` in the text config only
        if not self.tie_word_embeddings and self.text_config.tie_word_embeddings:
            self.tie_word_embeddings = True

    def validate(self) -> None:
        if self.vision_feature_select_strategy not in ("default", "full"):
            raise ValueError(
                f"vision_feature_select_strategy={self.vision_feature_select_strategy!r} must be 'default' or 'full'"
            )
        if isinstance(self.vision_feature_layer, list) and not self.vision_feature_layer:
            raise ValueError("vision_feature_layer=[] names no vision layer")


__all__ = ["LlavaConfig"]
