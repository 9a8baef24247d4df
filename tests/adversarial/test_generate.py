"""Hostile arguments to `generate` and hostile inputs to a model step get a `GenerationError` (a
`ValueError`) whose message names the argument; memory follows the tokens generated, not
`max_new_tokens`.

Proves, on tiny random models built in memory (no checkpoint, no network, no transformers):
- `REFUSED`: every argument transformers 5.23.0 refuses (`max_new_tokens <= 0`, negative or NaN
  `temperature`, `temperature=0` with sampling, `top_p` outside (0, 1], negative `top_k`, unknown
  keyword arguments such as `max_new_token=5`), and what used to fail deep inside torch (empty,
  float, 1-D or out-of-vocabulary `input_ids`, a mask of another shape, eos/pad ids outside the
  vocabulary, a generator that is not one, wrong-rank or NaN `pixel_values` for Idefics2, NaN
  logits while sampling or decoding greedily) is refused with the argument named, in a short message;
- `FORWARD_MASKS`: a model step given a padding mask of the wrong shape says so, by name;
- `ACCEPTED`: the valid forms (eos `[]` or a tensor, int32 ids, bool masks, `top_k=0`, None-valued
  extra inputs, which transformers ignores) still generate;
- `max_new_tokens=10**9` under a 2 GiB address-space cap stops at eos with the tokens an unbounded
  run gives (the cache used to reserve `max_new_tokens` positions up front: 64 GB here).
Run: python -m pytest tests/adversarial/test_generate.py -q
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from generated.idefics2 import Idefics2Config, Idefics2ForConditionalGeneration
from generated.llama import LlamaConfig, LlamaForCausalLM
from runtime.generation import GenerationError
from tests.adversarial.capped import run_capped
from tests.models.helpers import tiny_llama_kwargs

PROMPT = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
IMAGE_TOKEN = 98
MAX_MESSAGE = 400  # characters: messages stay short whatever the hostile value


def _llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**tiny_llama_kwargs())).eval()


def _idefics2() -> Idefics2ForConditionalGeneration:
    vision = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1, "num_attention_heads": 4}
    perceiver = {"hidden_size": 32, "resampler_n_latents": 3, "resampler_depth": 1, "resampler_n_heads": 4}
    perceiver |= {"resampler_head_dim": 8, "num_key_value_heads": 2}
    text = {**tiny_llama_kwargs(), "model_type": "mistral", "sliding_window": 7, "max_position_embeddings": 64}
    text.pop("rope_parameters")
    torch.manual_seed(0)
    config = Idefics2Config(
        image_token_id=IMAGE_TOKEN,
        text_config=text,
        vision_config={**vision, "image_size": 16, "patch_size": 4},
        perceiver_config=perceiver,
    )
    return Idefics2ForConditionalGeneration(config).eval()


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    nan_llama = _llama()
    with torch.no_grad():
        nan_llama.lm_head.weight.fill_(float("nan"))
    return {"llama": _llama(), "nan_llama": nan_llama, "idefics2": _idefics2()}


def image_batch() -> dict[str, torch.Tensor]:
    """One prompt holding one image (3 image tokens: the resampler's latents)."""
    input_ids = torch.tensor([[1, 5, IMAGE_TOKEN, IMAGE_TOKEN, IMAGE_TOKEN, 6, 7]])
    pixel_values = torch.randn(1, 1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    return {"input_ids": input_ids, "pixel_values": pixel_values, "pixel_attention_mask": torch.ones(1, 1, 16, 16)}


def prompt(**overrides: Any) -> dict[str, Any]:
    return {"input_ids": PROMPT, "max_new_tokens": 3, **overrides}


def images(**overrides: Callable[[dict[str, torch.Tensor]], Any]) -> Callable[[], dict[str, Any]]:
    """Idefics2 arguments: the valid image batch with some inputs replaced (a function of the batch)."""

    def build() -> dict[str, Any]:
        batch = image_batch()
        return {**batch, **{name: make(batch) for name, make in overrides.items()}, "max_new_tokens": 2}

    return build


REFUSED = [
    # (id, model, generate's arguments, what the message must name)
    ("max_new_tokens-negative", "llama", prompt(max_new_tokens=-1), "max_new_tokens"),
    ("max_new_tokens-zero", "llama", prompt(max_new_tokens=0), "max_new_tokens"),
    ("max_new_tokens-float", "llama", prompt(max_new_tokens=2.5), "max_new_tokens"),
    ("max_new_tokens-string", "llama", prompt(max_new_tokens="5"), "max_new_tokens"),
    ("max_new_tokens-bool", "llama", prompt(max_new_tokens=True), "max_new_tokens"),
    ("do_sample-string", "llama", prompt(do_sample="yes"), "do_sample"),
    ("temperature-negative", "llama", prompt(do_sample=True, temperature=-1.0), "temperature"),
    ("temperature-negative-greedy", "llama", prompt(temperature=-0.5), "temperature"),
    ("temperature-zero-sampling", "llama", prompt(do_sample=True, temperature=0.0), "temperature"),
    ("temperature-nan", "llama", prompt(do_sample=True, temperature=float("nan")), "temperature"),
    ("temperature-inf", "llama", prompt(do_sample=True, temperature=float("inf")), "temperature"),
    ("temperature-overflows-logits", "llama", prompt(do_sample=True, temperature=1e-40), "temperature"),
    ("top_p-negative", "llama", prompt(do_sample=True, top_p=-0.5), "top_p"),
    ("top_p-zero", "llama", prompt(do_sample=True, top_p=0.0), "top_p"),
    ("top_p-above-one", "llama", prompt(do_sample=True, top_p=1.5), "top_p"),
    ("top_p-nan", "llama", prompt(do_sample=True, top_p=float("nan")), "top_p"),
    ("top_k-negative", "llama", prompt(do_sample=True, top_k=-3), "top_k"),
    ("top_k-float", "llama", prompt(do_sample=True, top_k=2.5), "top_k"),
    ("typo-max_new_token", "llama", prompt(max_new_token=5), "max_new_token"),
    ("unsupported-num_beam_groups", "llama", prompt(num_beams=4, num_beam_groups=2), "num_beam_groups"),
    ("unsupported-forced_eos", "llama", prompt(forced_eos_token_id=2), "forced_eos_token_id"),
    ("num_beams-zero", "llama", prompt(num_beams=0), "num_beams"),
    ("early_stopping-string", "llama", prompt(num_beams=2, early_stopping="yes"), "early_stopping"),
    ("greedy-several-sequences", "llama", prompt(num_return_sequences=2), "num_return_sequences"),
    ("bad_words_ids-flat", "llama", prompt(bad_words_ids=[3, 4]), "bad_words_ids"),
    ("stop_strings-without-tokenizer", "llama", prompt(stop_strings=["x"]), "tokenizer"),
    ("generation_config-dict", "llama", prompt(generation_config={"max_new_tokens": 2}), "generation_config"),
    ("unknown-huge-name", "llama", prompt(**{"x" * 100_000: 1}), "xxxx"),
    ("generate-owned-past_key_values", "llama", prompt(past_key_values=object()), "past_key_values"),
    ("generate-owned-use_cache", "llama", prompt(use_cache=False), "use_cache"),
    ("not-taken-inputs_embeds", "llama", prompt(inputs_embeds=torch.zeros(2, 4, 32)), "inputs_embeds"),
    ("not-taken-labels", "llama", prompt(labels=PROMPT), "labels"),
    ("input_ids-list", "llama", prompt(input_ids=PROMPT.tolist()), "input_ids"),
    ("input_ids-float", "llama", prompt(input_ids=PROMPT.float()), "input_ids"),
    ("input_ids-bool", "llama", prompt(input_ids=PROMPT.bool()), "input_ids"),
    ("input_ids-1d", "llama", prompt(input_ids=PROMPT[0]), "input_ids"),
    ("input_ids-3d", "llama", prompt(input_ids=PROMPT[None]), "input_ids"),
    ("input_ids-empty", "llama", prompt(input_ids=torch.zeros(1, 0, dtype=torch.long)), "input_ids"),
    ("input_ids-batch-0", "llama", prompt(input_ids=torch.zeros(0, 4, dtype=torch.long)), "input_ids"),
    ("input_ids-above-vocab", "llama", prompt(input_ids=torch.tensor([[3, 500]])), "input_ids"),
    ("input_ids-negative", "llama", prompt(input_ids=torch.tensor([[3, -2]])), "input_ids"),
    ("input_ids-other-device", "llama", prompt(input_ids=PROMPT.to("meta")), "input_ids"),
    ("attention_mask-shorter", "llama", prompt(attention_mask=torch.ones(2, 3, dtype=torch.long)), "attention_mask"),
    ("attention_mask-3d", "llama", prompt(attention_mask=torch.ones(2, 1, 4, dtype=torch.long)), "attention_mask"),
    ("attention_mask-list", "llama", prompt(attention_mask=[[1] * 4] * 2), "attention_mask"),
    ("attention_mask-values", "llama", prompt(attention_mask=torch.full((2, 4), 3)), "attention_mask"),
    ("eos-above-vocab", "llama", prompt(eos_token_id=1000), "eos_token_id"),
    ("eos-negative", "llama", prompt(eos_token_id=-1), "eos_token_id"),
    ("eos-string", "llama", prompt(eos_token_id="2"), "eos_token_id"),
    ("eos-float", "llama", prompt(eos_token_id=2.0), "eos_token_id"),
    ("eos-float-tensor", "llama", prompt(eos_token_id=torch.tensor([2.0])), "eos_token_id"),
    ("eos-list-with-bad-id", "llama", prompt(eos_token_id=[2, 99]), "eos_token_id"),
    ("pad-above-vocab", "llama", prompt(pad_token_id=1000), "pad_token_id"),
    ("pad-negative", "llama", prompt(pad_token_id=-1), "pad_token_id"),
    ("generator-seed-int", "llama", prompt(do_sample=True, generator=42), "generator"),
    ("nan-logits-sampling", "nan_llama", prompt(do_sample=True), "logits"),
    ("nan-logits-greedy", "nan_llama", prompt(), "logits"),
    ("pixel_values-4d", "idefics2", images(pixel_values=lambda b: b["pixel_values"][:, 0]), "pixel_values"),
    ("pixel_values-3d", "idefics2", images(pixel_values=lambda b: b["pixel_values"][0, 0]), "pixel_values"),
    ("pixel_values-6d", "idefics2", images(pixel_values=lambda b: b["pixel_values"][None]), "pixel_values"),
    ("pixel_values-list", "idefics2", images(pixel_values=lambda b: b["pixel_values"].tolist()), "pixel_values"),
    ("pixel_values-nan", "idefics2", images(pixel_values=lambda b: b["pixel_values"] * float("nan")), "pixel_values"),
    ("pixel_values-2-channels", "idefics2", images(pixel_values=lambda b: b["pixel_values"][:, :, :2]), "pixel_values"),
    ("pixel_values-all-padding", "idefics2", images(pixel_values=lambda b: b["pixel_values"] * 0), "pixel_values"),
    ("pixel_mask-3d", "idefics2", images(pixel_attention_mask=lambda b: torch.ones(1, 16, 16)), "pixel_attention_mask"),
    ("typo-pixel_value", "idefics2", images(pixel_value=lambda b: b["pixel_values"]), "did you mean 'pixel_values'"),
    ("not-an-input-image_hidden_states", "idefics2", images(image_hidden_states=lambda b: torch.zeros(3, 32)), "image_hidden_states"),
    ("image-tokens-missing", "idefics2", images(input_ids=lambda b: torch.full((1, 7), 5)), "pixel_values"),
    ("mm_encoder_outputs-string", "idefics2", images(pixel_values=lambda b: None, mm_encoder_outputs=lambda b: "x"), "mm_encoder_outputs"),
    ("mm_encoder_outputs-bad-dict", "idefics2", images(pixel_values=lambda b: None, mm_encoder_outputs=lambda b: {"image": 3}), "mm_encoder_outputs"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "arguments", "names"), [pytest.param(*case[1:], id=case[0]) for case in REFUSED])
def test_generate_refuses_with_the_argument_named(
    models: dict[str, torch.nn.Module], model: str, arguments: dict[str, Any] | Callable, names: str
) -> None:
    arguments = arguments() if callable(arguments) else arguments
    with pytest.raises(GenerationError) as caught:
        models[model].generate(**arguments)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert names in message and len(message) <= MAX_MESSAGE, message


def test_an_eos_id_from_the_config_outside_the_vocabulary_names_the_config(
    models: dict[str, torch.nn.Module], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models["llama"].config, "eos_token_id", 500)
    with pytest.raises(GenerationError, match="LlamaConfig.eos_token_id"):
        models["llama"].generate(PROMPT, max_new_tokens=2)
    assert models["llama"].generate(PROMPT, max_new_tokens=2, eos_token_id=[]).shape == (2, 6)  # overridable


FORWARD_MASKS = [
    ("shorter-than-the-tokens", torch.tensor([[0, 1, 1], [1, 1, 1]])),
    ("other-batch", torch.ones(1, 4, dtype=torch.long)),
    ("4d", torch.tensor([True, False]).repeat(2, 1, 4, 2)),
    ("list", [[1, 1, 1, 1]] * 2),
]


@pytest.mark.parametrize("attention_mask", [pytest.param(m, id=name) for name, m in FORWARD_MASKS])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_a_model_step_refuses_a_padding_mask_of_the_wrong_shape(
    models: dict[str, torch.nn.Module], attention_mask: Any, attn: str
) -> None:
    model = models["llama"]
    model.config.set_attn_implementation(attn)
    try:
        with pytest.raises(GenerationError, match="attention_mask"):
            model(input_ids=PROMPT, attention_mask=attention_mask)
    finally:
        model.config.set_attn_implementation(None)


ACCEPTED = [
    ("no-eos", "llama", prompt(eos_token_id=[])),
    ("eos-tensor", "llama", prompt(eos_token_id=torch.tensor([2, 3]))),
    ("numpy-ints", "llama", prompt(max_new_tokens=np.int64(3), eos_token_id=np.int64(2), pad_token_id=np.int32(0))),
    ("int32-ids-bool-mask", "llama", prompt(input_ids=PROMPT.int(), attention_mask=torch.ones(2, 4, dtype=torch.bool))),
    ("left-padding", "llama", prompt(attention_mask=torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]]))),
    ("temperature-zero-greedy", "llama", prompt(temperature=0)),
    ("top_k-zero-top_p-one", "llama", prompt(do_sample=True, top_k=0, top_p=1.0, generator=torch.Generator())),
    ("top_k-top_p-none", "llama", prompt(do_sample=True, top_k=None, top_p=None, temperature=0.7)),
    ("top_k-above-vocab", "llama", prompt(do_sample=True, top_k=1000, top_p=0.5)),
    ("none-valued-extra-input", "llama", prompt(pixel_values=None, max_new_token=None)),
    ("base-model-input", "llama", prompt(output_hidden_states=True)),
    ("images", "idefics2", images()),
    ("pixel-mask-left-out", "idefics2", images(pixel_attention_mask=lambda b: None)),
]  # fmt: skip


@pytest.mark.parametrize(("model", "arguments"), [pytest.param(*case[1:], id=case[0]) for case in ACCEPTED])
def test_valid_arguments_still_generate(
    models: dict[str, torch.nn.Module], model: str, arguments: dict[str, Any] | Callable
) -> None:
    arguments = arguments() if callable(arguments) else arguments
    input_ids = arguments["input_ids"]
    tokens = models[model].generate(**arguments)
    assert tokens.dtype == torch.long and tokens.shape[0] == input_ids.shape[0]
    assert input_ids.shape[1] < tokens.shape[1] <= input_ids.shape[1] + int(arguments["max_new_tokens"])
    assert torch.equal(tokens[:, : input_ids.shape[1]], torch.as_tensor(input_ids).long())


def test_generation_stops_at_eos_and_pads_finished_rows(models: dict[str, torch.nn.Module]) -> None:
    free = models["llama"].generate(PROMPT, max_new_tokens=6, eos_token_id=[])
    eos = int(free[0, 4])  # row 0's first new token
    tokens = models["llama"].generate(PROMPT, max_new_tokens=6, eos_token_id=eos, pad_token_id=0)
    assert tokens[0, 4] == eos and bool((tokens[0, 5:] == 0).all())
    stop = (tokens[1, 4:] == eos).nonzero()
    end = 4 + (int(stop[0]) + 1 if len(stop) else 6)
    assert torch.equal(tokens[1, :end], free[1, :end]) and tokens.shape[1] <= 10


def test_generation_past_max_position_embeddings_warns_once_and_goes_on(
    models: dict[str, torch.nn.Module],
) -> None:
    with pytest.warns(UserWarning, match=r"max_position_embeddings \(32\)") as caught:
        tokens = models["llama"].generate(PROMPT, max_new_tokens=30, eos_token_id=[])
    assert tokens.shape == (2, 34)
    assert len([w for w in caught if "max_position_embeddings" in str(w.message)]) == 1


def test_right_padding_warns(models: dict[str, torch.nn.Module]) -> None:
    with pytest.warns(UserWarning, match="left padding"):
        models["llama"].generate(PROMPT, attention_mask=torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]), max_new_tokens=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device to hold the model")
def test_a_generator_on_another_device_is_refused() -> None:
    model = _llama().to("cuda")
    with pytest.raises(GenerationError, match="generator"):
        model.generate(PROMPT.to("cuda"), max_new_tokens=2, do_sample=True, generator=torch.Generator())


HUGE_MAX_NEW_TOKENS = """
import torch
from generated.llama import LlamaConfig, LlamaForCausalLM
from tests.models.helpers import tiny_llama_kwargs

torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**tiny_llama_kwargs(max_position_embeddings=4096))).eval()
prompt = torch.tensor([[5, 6, 7]])
def sample(max_new_tokens, eos):
    generator = torch.Generator().manual_seed(0)
    return model.generate(prompt, max_new_tokens=max_new_tokens, do_sample=True, generator=generator, eos_token_id=eos)
free = sample(300, [])[0, 3:].tolist()
# the token whose first appearance comes last: generation runs that long, then stops
eos = max(set(free), key=free.index)
tokens = sample(10**9, eos)
assert tokens[0].tolist() == [5, 6, 7] + free[: free.index(eos) + 1], (tokens, free)
assert free.index(eos) > 50, free.index(eos)
print("stopped after", tokens.shape[1] - 3)
"""


def test_a_huge_max_new_tokens_stays_within_memory_and_stops_at_eos() -> None:
    result = run_capped(HUGE_MAX_NEW_TOKENS, memory_mib=2048, timeout_s=180)
    assert result.returncode == 0, result.output
    assert "stopped after" in result.stdout


PIXELS = [  # called on the model directly: its own check names the input, not a failed reshape
    ("pixel_values-4d", images(pixel_values=lambda b: b["pixel_values"][:, 0]), "pixel_values must be"),
    ("pixel_values-2-channels", images(pixel_values=lambda b: b["pixel_values"][:, :, :2]), "pixel_values must be"),
    ("pixel_values-all-padding", images(pixel_values=lambda b: b["pixel_values"] * 0), "every image is padding"),
    ("pixel_mask-3d", images(pixel_attention_mask=lambda b: torch.ones(1, 16, 16)), "pixel_attention_mask must be"),
    ("pixel_mask-other-size", images(pixel_attention_mask=lambda b: torch.ones(1, 1, 8, 16)), "pixel_attention_mask"),
]


@pytest.mark.parametrize(("inputs", "message"), [pytest.param(*case[1:], id=case[0]) for case in PIXELS])
def test_idefics2_forward_names_the_pixel_input_it_cannot_read(
    models: dict[str, torch.nn.Module], inputs: Callable[[], dict[str, Any]], message: str
) -> None:
    arguments = {key: value for key, value in inputs().items() if key != "max_new_tokens"}
    with pytest.raises(ValueError, match=message):
        models["idefics2"](**arguments)


def test_max_length_counts_the_prompt_and_yields_to_max_new_tokens(models: dict[str, torch.nn.Module]) -> None:
    """transformers' `max_length`: at most that many tokens, prompt included; `max_new_tokens` wins
    when both are given; a `max_length` the prompt already fills is refused by name."""
    llama, length = models["llama"], PROMPT.shape[1]
    three_new = llama.generate(PROMPT, max_new_tokens=3, eos_token_id=[])
    assert torch.equal(llama.generate(PROMPT, max_length=length + 3, eos_token_id=[]), three_new)
    assert torch.equal(llama.generate(PROMPT, max_new_tokens=3, max_length=length + 9, eos_token_id=[]), three_new)
    for bad in (length, 2.5, "9"):
        with pytest.raises(ValueError, match="max_length"):
            llama.generate(PROMPT, max_length=bad)
