"""Test declaration of Qwen2 (modular/modular_qwen2.py): Mistral with q/k/v biases and sliding
windows on chosen layers."""

from hypothesis import strategies as st

from tests.models.specs import TEXT, ModelSpec

SPEC = ModelSpec(
    model="qwen2",
    prefix="Qwen2",
    kind=TEXT,
    reference="Qwen2",
    heads=("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering"),
    config={"use_sliding_window": True, "sliding_window": 5, "max_window_layers": 1},
    switches={
        "use_sliding_window": [False, True],
        "sliding_window": st.integers(2, 6),
        "max_window_layers": st.integers(0, 2),
    },
    # bf16 vs transformers, max |logit diff| over 8 checkpoints: 0 (eager and sdpa);
    # logits reach 4.2, where a bf16 step is 0.031
    bf16_atol=0.03,
)
