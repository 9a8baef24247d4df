"""Test declaration of Llama (modular/modular_llama.py), the root of the text decoders."""

from tests.models.specs import TEXT, ModelSpec

SPEC = ModelSpec(
    model="llama",
    prefix="Llama",
    kind=TEXT,
    reference="Llama",
    heads=("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering"),
    switches={"attention_bias": [False, True], "mlp_bias": [False, True]},
    # bf16 vs transformers, max |logit diff| over 8 checkpoints: 0.0078 (sdpa), 0 (eager);
    # logits reach 4.4, where a bf16 step is 0.031
    bf16_atol=0.03,
)
