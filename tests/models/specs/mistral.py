"""Test declaration of Mistral (modular/modular_mistral.py): Llama with a sliding window."""

from tests.models.specs import TEXT, ModelSpec

SPEC = ModelSpec(
    model="mistral",
    prefix="Mistral",
    kind=TEXT,
    reference="Mistral",
    heads=("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering"),
    config={"sliding_window": 5},
    switches={"sliding_window": [None, 2, 3, 6]},
    # bf16 vs transformers, max |logit diff| over 8 checkpoints: 0.0078 (sdpa), 0 (eager);
    # logits reach 4.7, where a bf16 step is 0.031
    bf16_atol=0.03,
)
