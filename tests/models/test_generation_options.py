"""`generate`'s options match transformers 5.23.0's `generate` on the same weights.

A tiny random Llama is built and saved by transformers and loaded by us (as
tests/models/test_text_family.py does), and both generate from the same left-padded batch:
- greedy decoding and beam search give identical token ids, for every length option
  (max_length, max_new_tokens, min_new_tokens, min_length), EOS as an int or a list, bad_words_ids,
  suppress_tokens, begin_suppress_tokens, repetition_penalty, no_repeat_ngram_size, num_beams with
  length_penalty, early_stopping True / False / "never" and num_return_sequences; with
  return_dict_in_generate, the same scores, logits, sequences_scores and beam_indices;
- sampling (temperature, top_k, top_p, min_p, typical_p, num_return_sequences): random draws need
  not consume the generator as transformers does, so transformers' draws are replaced by ours and
  the processed scores of every step (after every processor and warper) are compared;
- stop_strings with a byte-level tokenizer stop where transformers stops;
- Idefics2 (a vision-language model): beams and num_return_sequences expand the pixel inputs and
  precomputed image features (`mm_encoder_outputs`) as transformers does.
Run: python -m pytest tests/models/test_generation_options.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from generated.llama import LlamaForCausalLM
from tests.models.helpers import assert_close, padded_batch, reference_checkpoint, tiny_llama_kwargs

transformers = pytest.importorskip("transformers")

PROMPT, MASK = padded_batch(99, [8, 5], seed=3)
BATCH = {"input_ids": PROMPT, "attention_mask": MASK}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """(transformers' model, ours) with the same weights, max_position_embeddings 64."""
    path = tmp_path_factory.mktemp("generation")
    kwargs = tiny_llama_kwargs(max_position_embeddings=64)
    reference = reference_checkpoint(path, "LlamaForCausalLM", model_type="llama", seed=1, **kwargs)
    return reference, LlamaForCausalLM.from_pretrained(path / "ref")


@pytest.fixture(scope="module")
def free(pair: tuple[Any, Any]) -> list[int]:
    """Row 0's greedy new tokens without any EOS: ids that do get generated, to stop or ban."""
    return pair[1].generate(**BATCH, max_new_tokens=12, eos_token_id=[])[0, PROMPT.shape[1] :].tolist()


def assert_scores_equal(actual: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...], what: str) -> None:
    """Per-step (B, V) scores: -inf at the same places, the finite values within 1e-5."""
    assert len(actual) == len(expected), f"{what}: {len(actual)} steps vs {len(expected)}"
    for step, (ours, theirs) in enumerate(zip(actual, expected, strict=True)):
        assert torch.equal(ours.isinf(), theirs.isinf()), f"{what}: step {step} rules out other tokens"
        finite = ours.isfinite()
        assert_close(ours[finite], theirs[finite], what=f"{what} step {step}")


def greedy_cases(free: list[int]) -> dict[str, dict[str, Any]]:
    """Options per case; EOS and banned ids are tokens the free greedy run produces."""
    length = PROMPT.shape[1]
    return {
        "max_new_tokens": {"max_new_tokens": 7},
        "max_length": {"max_length": length + 5},
        "default-length": {},
        "eos-int": {"eos_token_id": free[2], "max_new_tokens": 10},
        "eos-list": {"eos_token_id": [free[4], free[1]], "max_new_tokens": 10},
        "min_new_tokens": {"eos_token_id": free[0], "min_new_tokens": 4, "max_new_tokens": 8},
        "min_length": {"eos_token_id": [free[0], free[1]], "min_length": length + 3, "max_new_tokens": 8},
        "bad_words_ids": {"bad_words_ids": [[free[0]], [free[1], free[2]]], "max_new_tokens": 8},
        "suppress_tokens": {"suppress_tokens": [free[0], free[3]], "max_new_tokens": 8},
        "begin_suppress_tokens": {"begin_suppress_tokens": [free[0]], "max_new_tokens": 6},
        "repetition_penalty": {"repetition_penalty": 1.8, "max_new_tokens": 10},
        "no_repeat_ngram_size": {"no_repeat_ngram_size": 2, "max_new_tokens": 12},
        "penalty-ngram-eos": {
            "repetition_penalty": 0.7,
            "no_repeat_ngram_size": 3,
            "eos_token_id": free[5],
            "max_new_tokens": 8,
        },
    }


GREEDY = [
    "max_new_tokens", "max_length", "default-length", "eos-int", "eos-list", "min_new_tokens", "min_length",
    "bad_words_ids", "suppress_tokens", "begin_suppress_tokens", "repetition_penalty", "no_repeat_ngram_size",
    "penalty-ngram-eos",
]  # fmt: skip


@pytest.mark.parametrize("case", GREEDY)
def test_greedy_tokens_match(pair: tuple[Any, Any], free: list[int], case: str) -> None:
    reference, model = pair
    options = greedy_cases(free)[case]
    expected = reference.generate(**BATCH, do_sample=False, **options)
    assert model.generate(**BATCH, **options).tolist() == expected.tolist()


def test_greedy_scores_and_logits_match(pair: tuple[Any, Any], free: list[int]) -> None:
    reference, model = pair
    options = {"return_dict_in_generate": True, "output_scores": True, "output_logits": True, "max_new_tokens": 6}
    options |= {"repetition_penalty": 1.3, "eos_token_id": free[3]}
    expected, actual = reference.generate(**BATCH, **options), model.generate(**BATCH, **options)
    assert actual.sequences.tolist() == expected.sequences.tolist()
    assert_scores_equal(actual.scores, expected.scores, "scores")
    assert_scores_equal(actual.logits, expected.logits, "logits")


BEAMS = {
    "beams-return-2": {"num_beams": 3, "num_return_sequences": 2},
    "early-true": {"num_beams": 4, "early_stopping": True, "num_return_sequences": 4},
    "early-never-long": {"num_beams": 3, "early_stopping": "never", "length_penalty": 2.0},
    "early-false-short": {"num_beams": 3, "early_stopping": False, "length_penalty": -1.0},
    "beams-penalties": {"num_beams": 3, "repetition_penalty": 1.5, "no_repeat_ngram_size": 2},
}


@pytest.mark.parametrize("case", list(BEAMS))
def test_beam_search_matches(pair: tuple[Any, Any], free: list[int], case: str) -> None:
    """Same sequences, final scores, per-step scores, logits and beam indices; EOS ids that the
    beams do produce, so hypotheses finish at different lengths."""
    reference, model = pair
    options = {**BEAMS[case], "eos_token_id": [free[1], free[3]], "max_new_tokens": 9}
    options |= {"return_dict_in_generate": True, "output_scores": True, "output_logits": True}
    expected, actual = reference.generate(**BATCH, **options), model.generate(**BATCH, **options)
    assert actual.sequences.tolist() == expected.sequences.tolist()
    assert actual.beam_indices.tolist() == expected.beam_indices.tolist()
    assert_close(actual.sequences_scores, expected.sequences_scores, what="sequences_scores")
    assert_scores_equal(actual.scores, expected.scores, "beam scores")
    assert_scores_equal(actual.logits, expected.logits, "beam logits")
    assert (
        model.generate(**BATCH, **{**options, "return_dict_in_generate": False}).tolist()
        == expected.sequences.tolist()
    )


def replay(tokens: torch.Tensor, prompt_len: int) -> Any:
    """A stand-in for torch.multinomial that returns `tokens`' next column at each call."""
    state = {"step": 0}

    def multinomial(probs: torch.Tensor, num_samples: int = 1, **kwargs: Any) -> torch.Tensor:
        column = prompt_len + state["step"]
        state["step"] += 1
        return tokens[:, column : column + 1].clone()

    return multinomial


SAMPLING = {
    "temperature": {"temperature": 0.7, "top_k": 0, "max_new_tokens": 4},
    "top_k": {"top_k": 5},
    "top_p": {"top_p": 0.8, "top_k": 0},
    "min_p": {"min_p": 0.15, "top_k": 0},
    "typical_p": {"typical_p": 0.6, "top_k": 0},
    "all-warpers": {"temperature": 1.3, "top_k": 20, "top_p": 0.9, "min_p": 0.05, "typical_p": 0.9},
    "with-processors": {"temperature": 0.8, "repetition_penalty": 1.4, "no_repeat_ngram_size": 2},
    "num_return_sequences": {"num_return_sequences": 3, "top_p": 0.9},
}


@pytest.mark.parametrize("case", list(SAMPLING))
def test_sampling_distributions_match(
    pair: tuple[Any, Any], free: list[int], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our sampled tokens replayed through transformers' sampling: every step's processed
    scores (the distribution drawn from) are the same."""
    reference, model = pair
    options = {"do_sample": True, "max_new_tokens": 6, "eos_token_id": free[2], **SAMPLING[case]}
    options |= {"return_dict_in_generate": True, "output_scores": True}
    actual = model.generate(**BATCH, **options, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(torch, "multinomial", replay(actual.sequences, PROMPT.shape[1]))
    expected = reference.generate(**BATCH, **options)
    assert actual.sequences.tolist() == expected.sequences.tolist()
    assert_scores_equal(actual.scores, expected.scores, f"{case} scores")


def byte_level_tokenizer(path: Path) -> Path:
    """A byte-level BPE over the 99-token vocabulary: 90 byte symbols, then merges, saved for both."""
    import tokenizers

    alphabet = sorted(tokenizers.pre_tokenizers.ByteLevel.alphabet())[:90]
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    merges = [(a, b) for a, b in zip(alphabet[33:42], alphabet[40:49], strict=True)]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    model = tokenizers.models.BPE(vocab=vocab, merges=merges)
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast"}')
    return path


def test_stop_strings_stop_where_transformers_stops(pair: tuple[Any, Any], free: list[int], tmp_path: Path) -> None:
    """A stop string that spans two generated tokens (the end of one, the start of the next)."""
    from runtime.tokenization_utils import Tokenizer

    reference, model = pair
    folder = byte_level_tokenizer(tmp_path / "tokenizer")
    ours, theirs = Tokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    pieces = [ours.decode([token]) for token in free]
    position = next(i for i in range(3, len(free) - 1) if pieces[i] and pieces[i + 1])
    stop = pieces[position][-1:] + pieces[position + 1][:1]
    options = {"stop_strings": [stop, "\x00never"], "max_new_tokens": 12, "eos_token_id": []}
    expected = reference.generate(**BATCH, **options, tokenizer=theirs)
    actual = model.generate(**BATCH, **options, tokenizer=ours)
    assert actual.tolist() == expected.tolist()
    assert actual[0, PROMPT.shape[1] :].tolist() != free  # row 0 did stop (and was padded)


def test_streamers_give_the_generated_text(
    pair: tuple[Any, Any], free: list[int], tmp_path: Path, capsys: Any
) -> None:
    """TextStreamer prints, and TextIteratorStreamer hands another thread, exactly the decoded
    new tokens (skip_prompt), word by word."""
    from threading import Thread

    from runtime.streamers import TextIteratorStreamer, TextStreamer
    from runtime.tokenization_utils import Tokenizer

    model = pair[1]
    tokenizer = Tokenizer.from_pretrained(byte_level_tokenizer(tmp_path / "tokenizer"))
    prompt = {"input_ids": PROMPT[:1], "max_new_tokens": 10, "eos_token_id": []}
    tokens = model.generate(**prompt, streamer=TextStreamer(tokenizer, skip_prompt=True))
    expected = tokenizer.decode(tokens[0, PROMPT.shape[1] :])
    assert capsys.readouterr().out == expected + "\n"
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, timeout=60)
    thread = Thread(target=model.generate, kwargs={**prompt, "streamer": streamer})
    thread.start()
    pieces = list(streamer)
    thread.join()
    assert "".join(pieces) == expected and len(pieces) > 1


def test_vision_language_beams_and_samples_expand_the_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Idefics2 with two prompts holding different numbers of images: beam search with several
    return sequences gives transformers' tokens, from pixels and from precomputed image features
    (regrouped per prompt); sampled return sequences see the same distributions."""
    from tests.models.test_vision_language import image_text_batch, vlm_pair

    reference, model = vlm_pair(tmp_path, "idefics2", "sdpa", seed=1)
    batch = image_text_batch(model)
    beams = {"num_beams": 3, "num_return_sequences": 2, "max_new_tokens": 5, "pad_token_id": 0}
    expected = reference.generate(**batch, **beams)
    assert model.generate(**batch, **beams).tolist() == expected.tolist()
    pixels = {key: batch.pop(key) for key in ("pixel_values", "pixel_attention_mask")}
    with torch.no_grad():
        features = model.get_image_features(**pixels)
    assert model.generate(**batch, mm_encoder_outputs={"image": features}, **beams).tolist() == expected.tolist()
    sampling = {"do_sample": True, "num_return_sequences": 2, "max_new_tokens": 4, "pad_token_id": 0, "top_k": 10}
    sampling |= {"return_dict_in_generate": True, "output_scores": True}
    actual = model.generate(**batch, **pixels, **sampling, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(torch, "multinomial", replay(actual.sequences, batch["input_ids"].shape[1]))
    theirs = reference.generate(**batch, **pixels, **sampling)
    assert actual.sequences.tolist() == theirs.sequences.tolist()
    assert_scores_equal(actual.scores, theirs.scores, "idefics2 sampled scores")
