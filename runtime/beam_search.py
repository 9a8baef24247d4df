"""Beam search, vectorised over the batch, as transformers 5.23.0's `_beam_search` computes it.

    result = beam_search(step, reorder, input_ids, processors, stopping, settings)

Each prompt keeps `num_beams` running hypotheses. Every step scores all beams x vocabulary
continuations by accumulated log-probability (after the logits processors), keeps the best
`(1 + eos ids) * num_beams` (at least 2 * num_beams) so enough beams survive the ones that stop,
moves those that hit a stopping criterion (EOS, a stop string, the maximum length) into the
finished set with their length-penalised score `logp / generated_len ** length_penalty`, and
continues the best `num_beams` others. The KV cache is reordered to follow the surviving beams
(`reorder(beam_idx)`). `early_stopping`: True stops a prompt once `num_beams` hypotheses are
finished; False stops when the best running beam, at its current length, cannot beat the worst
finished one; "never" assumes it may still reach `max_length` (with a positive length penalty).
With `do_sample`, continuations are drawn without replacement instead of taken best first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from runtime.logits_process import LogitsProcessorList

_NEG = -1.0e9  # transformers' "impossible" score: finite, so sums and top-k stay well defined


@dataclasses.dataclass(frozen=True)
class BeamSettings:
    num_beams: int
    max_length: int
    length_penalty: float
    early_stopping: bool | str
    num_return_sequences: int
    eos_count: int
    fill: int  # written after a finished hypothesis' last token
    do_sample: bool = False
    generator: torch.Generator | None = None


@dataclasses.dataclass
class BeamResult:
    sequences: torch.Tensor  # (B * num_return_sequences, prompt + longest generated)
    sequences_scores: torch.Tensor  # (B * num_return_sequences,)
    beam_indices: torch.Tensor  # (B * num_return_sequences, longest generated): the flat beam of each step


def _gather(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """tensor[b, indices[b, k], ...] for each b, k: (B, K, ...) from (B, beams, ...)."""
    while indices.ndim < tensor.ndim:
        indices = indices.unsqueeze(-1)
    return torch.take_along_dim(tensor, indices, dim=1)


class _Beams:
    """The state of one beam search: running and finished hypotheses of every prompt."""

    def __init__(self, input_ids: torch.Tensor, settings: BeamSettings) -> None:
        flat, self.prompt_len = input_ids.shape
        k, device = settings.num_beams, input_ids.device
        self.settings, self.batch, self.cur_len = settings, flat // k, self.prompt_len
        self.keep = max(2, 1 + settings.eos_count) * k
        self.top_mask = torch.arange(self.keep, device=device) < k  # the first num_beams candidates
        self.running = torch.full((self.batch, k, settings.max_length), settings.fill, dtype=torch.long, device=device)
        self.running[:, :, : self.prompt_len] = input_ids.view(self.batch, k, -1)
        self.sequences = self.running.clone()
        self.running_scores = torch.zeros(self.batch, k, device=device)
        self.running_scores[:, 1:] = _NEG  # the beams start identical: only the first one is expanded
        self.scores = torch.full((self.batch, k), _NEG, device=device)
        self.finished = torch.zeros(self.batch, k, dtype=torch.bool, device=device)
        self.improvable = torch.ones(self.batch, 1, dtype=torch.bool, device=device)
        generated = settings.max_length - self.prompt_len
        self.running_indices = torch.full((self.batch, k, generated), -1, dtype=torch.int32, device=device)
        self.indices = self.running_indices.clone()

    def flat_running(self) -> torch.Tensor:
        return self.running[:, :, : self.cur_len].reshape(self.batch * self.settings.num_beams, self.cur_len)

    def top_continuations(self, log_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The best `keep` continuations of each prompt from (B, beams * V) accumulated log-probs."""
        s = self.settings
        if s.do_sample:
            picked = torch.multinomial(log_probs.softmax(dim=-1), num_samples=self.keep, generator=s.generator)
            top_scores = torch.gather(log_probs, 1, picked)
        else:
            top_scores, picked = torch.topk(log_probs, k=self.keep)
        vocab_size = log_probs.shape[-1] // s.num_beams
        beam = picked // vocab_size
        sequences = _gather(self.running, beam)
        sequences[:, :, self.cur_len] = picked % vocab_size
        indices = _gather(self.running_indices, beam)
        offset = torch.arange(self.batch, device=beam.device).view(-1, 1) * s.num_beams
        indices[:, :, self.cur_len - self.prompt_len] = (beam + offset).to(indices.dtype)
        return top_scores, sequences, indices

    def advance(self, log_probs: torch.Tensor, stopping: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """One step from (B * beams, V) processed log-probs; returns the flat beam index to reorder by."""
        s = self.settings
        accumulated = (log_probs.view(self.batch, s.num_beams, -1) + self.running_scores[:, :, None]).view(
            self.batch, -1
        )
        top_scores, top_sequences, top_indices = self.top_continuations(accumulated)
        hits = stopping(top_sequences[:, :, : self.cur_len + 1].reshape(self.batch * self.keep, -1))
        hits = self.last_hits = hits.view(self.batch, self.keep)
        # the best candidates that go on
        going_on = top_scores + hits.float() * _NEG
        best = torch.topk(going_on, k=s.num_beams)[1]
        self.running, self.running_scores = _gather(top_sequences, best), _gather(going_on, best)
        self.running_indices = _gather(top_indices, best)
        self._update_finished(top_sequences, top_scores, top_indices, hits)
        beam_idx = self.running_indices[..., self.cur_len - self.prompt_len].reshape(-1)
        self.cur_len += 1
        self._update_improvable()
        return beam_idx

    def _update_finished(
        self, top_sequences: torch.Tensor, top_scores: torch.Tensor, top_indices: torch.Tensor, hits: torch.Tensor
    ) -> None:
        """Merge the candidates that just finished (among the first num_beams) into the finished set."""
        s = self.settings
        just_finished = hits & self.top_mask[None, :]
        scores = top_scores / ((self.cur_len + 1 - self.prompt_len) ** s.length_penalty)
        full = torch.all(self.finished, dim=-1, keepdim=True) & (s.early_stopping is True)
        scores = scores + full.float() * _NEG + (~self.improvable).float() * _NEG + (~just_finished) * _NEG
        merged_scores = torch.cat((self.scores, scores), dim=1)
        best = torch.topk(merged_scores, k=s.num_beams)[1]
        self.sequences = _gather(torch.cat((self.sequences, top_sequences), dim=1), best)
        self.scores = _gather(merged_scores, best)
        self.indices = _gather(torch.cat((self.indices, top_indices), dim=1), best)
        self.finished = _gather(torch.cat((self.finished, just_finished), dim=1), best)

    def _update_improvable(self) -> None:
        """Whether the best running beam could still beat the worst finished one (transformers'
        `_check_early_stop_heuristic`)."""
        s = self.settings
        if s.early_stopping == "never" and s.length_penalty > 0.0:
            best_length = s.max_length - self.prompt_len
        else:
            best_length = self.cur_len - self.prompt_len
        best_running = self.running_scores[:, :1] / (best_length**s.length_penalty)
        worst_finished = torch.where(self.finished, torch.min(self.scores, dim=1, keepdim=True)[0], -1.0e9)
        self.improvable = self.improvable & torch.any(best_running > worst_finished, dim=-1, keepdim=True)

    def done(self) -> bool:
        """transformers' `_beam_search_has_unfinished_sequences`, negated; also at `max_length`."""
        all_full = bool(torch.all(self.finished)) and self.settings.early_stopping is True
        no_continuation = bool(torch.all(self.last_hits)) or self.cur_len >= self.settings.max_length
        return not bool(torch.any(self.improvable)) or all_full or no_continuation

    def result(self) -> BeamResult:
        r = self.settings.num_return_sequences
        sequences = self.sequences[:, :r].reshape(self.batch * r, -1)
        scores = self.scores[:, :r].reshape(-1)
        indices = self.indices[:, :r].reshape(self.batch * r, -1)
        generated = int((indices + 1).bool().sum(dim=1).max())
        return BeamResult(sequences[:, : self.prompt_len + generated], scores, indices[:, :generated])


def beam_search(
    step: Callable[[torch.Tensor, int], torch.Tensor],
    reorder: Callable[[torch.Tensor], None],
    input_ids: torch.Tensor,
    processors: LogitsProcessorList,
    stopping: Callable[[torch.Tensor], torch.Tensor],
    settings: BeamSettings,
    record: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
) -> BeamResult:
    """Run beam search on (B * num_beams, T) prompts (each row repeated num_beams times).

    `step(ids, i)` runs the model on step `i` (the (B * num_beams, t) running sequences; the new
    token is the last column) and returns (B * num_beams, V) float32 logits; `reorder(beam_idx)`
    makes the cache follow the surviving beams; `stopping(ids)` says which (N, t) rows are
    finished; `record(processed_log_probs, logits)` sees every step's scores.
    """
    beams = _Beams(input_ids, settings)
    index = 0
    while True:
        flat = beams.flat_running()
        logits = step(flat, index)
        log_probs = processors(flat, torch.nn.functional.log_softmax(logits, dim=-1))
        if record is not None:
            record(log_probs.clone(), logits.clone())
        reorder(beams.advance(log_probs, stopping))
        index += 1
        if beams.done():
            return beams.result()
