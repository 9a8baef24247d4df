"""Test declaration of Gemma2 (modular/modular_gemma2.py): Gemma with alternating sliding and
global layers, softcapped attention and final logits. sdpa cannot softcap: the declared backends
are the exact ones (eager, the default eager_chunked, flex_attention) and sdpa, which runs
softcapped layers with eager_chunked."""

from hypothesis import strategies as st

from tests.models.specs import TEXT, ModelSpec

SPEC = ModelSpec(
    model="gemma2",
    prefix="Gemma2",
    kind=TEXT,
    reference="Gemma2",
    heads=("ForSequenceClassification", "ForTokenClassification"),
    config={
        "sliding_window": 5,
        "head_dim": 8,
        "query_pre_attn_scalar": 12,
        "attn_logit_softcapping": 2.0,
        "final_logit_softcapping": 3.0,
    },
    backends=("eager", "eager_chunked", "sdpa", "flex_attention"),
    switches={
        "sliding_window": st.integers(2, 6),
        "query_pre_attn_scalar": st.integers(4, 16),
        "attn_logit_softcapping": [None, 1.5, 20.0],
        "final_logit_softcapping": [None, 2.5],
    },
    # bf16 vs transformers, max |logit diff| over 8 checkpoints: 0;
    # logits softcapped to 3, where a bf16 step is 0.0156
    bf16_atol=0.02,
    # flex_attention keeps bf16 scores in float32, closer to the float32 result than eager's bf16
    # scores: 0.047 from transformers' bf16 eager (three bf16 steps), greedy tokens equal
    bf16_atol_by_backend={"flex_attention": 0.06},
)
