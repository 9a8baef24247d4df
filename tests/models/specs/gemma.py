"""Test declaration of Gemma (modular/modular_gemma.py): Llama with scaled embeddings, (1 + w)
RMSNorm, a GeGLU MLP and tied embeddings. transformers has no GemmaForQuestionAnswering."""

from tests.models.specs import TEXT, ModelSpec

SPEC = ModelSpec(
    model="gemma",
    prefix="Gemma",
    kind=TEXT,
    reference="Gemma",
    heads=("ForSequenceClassification", "ForTokenClassification"),
    config={"head_dim": 16},
    # released configs say "gelu", which Gemma reads as the tanh approximation
    switches={"hidden_act": ["gelu", "gelu_pytorch_tanh"], "use_bidirectional_attention": [None, False]},
    # bf16 vs transformers, max |logit diff| over 8 checkpoints: 0.0078 (eager), 0 (sdpa);
    # logits reach 4.9, where a bf16 step is 0.031
    bf16_atol=0.03,
)
