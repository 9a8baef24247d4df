"""Test declaration of Qwen3 (modular/modular_qwen3.py): Qwen2 with an RMSNorm on each query and
key head, and q/k/v biases only with `attention_bias`."""

from hypothesis import strategies as st

from tests.models.specs import TEXT, ModelSpec

SPEC = ModelSpec(
    model="qwen3",
    prefix="Qwen3",
    kind=TEXT,
    reference="Qwen3",
    heads=("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering"),
    # head_dim defaults to 128 in Qwen3
    config={"head_dim": 8, "use_sliding_window": True, "sliding_window": 5, "max_window_layers": 1},
    switches={
        "attention_bias": [False, True],
        "use_sliding_window": [False, True],
        "sliding_window": st.integers(2, 6),
        "max_window_layers": st.integers(0, 2),
    },
    # bf16 vs transformers, max |logit diff| over 8 checkpoints: 0 (eager and sdpa);
    # logits reach 4.6, where a bf16 step is 0.031
    bf16_atol=0.03,
)
