"""Training losses shared by task heads, computed as transformers computes them.

Labels equal to -100 are ignored. The causal LM loss shifts labels by one inside, so callers pass
`labels = input_ids` (with pad and image positions set to -100).
"""

from __future__ import annotations

import torch
from torch import nn

IGNORE_INDEX = -100


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Mean cross-entropy of predicting token t+1 from position t, in float32."""
    logits = logits.float()
    shift_labels = nn.functional.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:].contiguous()
    return nn.functional.cross_entropy(
        logits.view(-1, vocab_size), shift_labels.view(-1).to(logits.device), ignore_index=IGNORE_INDEX
    )


def sequence_classification_loss(
    pooled_logits: torch.Tensor, labels: torch.Tensor, num_labels: int, problem_type: str | None
) -> tuple[torch.Tensor, str]:
    """Regression (MSE), single-label (CE) or multi-label (BCE); returns (loss, problem_type)."""
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    labels = labels.to(pooled_logits.device)
    if problem_type == "regression":
        if num_labels == 1:
            return nn.functional.mse_loss(pooled_logits.squeeze(), labels.squeeze()), problem_type
        return nn.functional.mse_loss(pooled_logits, labels), problem_type
    if problem_type == "single_label_classification":
        return nn.functional.cross_entropy(pooled_logits.view(-1, num_labels), labels.view(-1)), problem_type
    return nn.functional.binary_cross_entropy_with_logits(pooled_logits, labels), problem_type


def token_classification_loss(logits: torch.Tensor, labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    logits = logits.view(-1, num_labels).float()
    return nn.functional.cross_entropy(logits, labels.view(-1).to(logits.device), ignore_index=IGNORE_INDEX)


def question_answering_loss(
    start_logits: torch.Tensor, end_logits: torch.Tensor, start_positions: torch.Tensor, end_positions: torch.Tensor
) -> torch.Tensor:
    """Mean of start and end cross-entropies; positions outside the sequence are ignored."""
    ignored_index = start_logits.size(1)
    start_positions = start_positions.squeeze(-1).clamp(0, ignored_index).to(start_logits.device)
    end_positions = end_positions.squeeze(-1).clamp(0, ignored_index).to(end_logits.device)
    start_loss = nn.functional.cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = nn.functional.cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2
