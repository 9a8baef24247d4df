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


def load_balancing_loss(
    router_logits: tuple[torch.Tensor, ...],
    num_experts: int,
    top_k: int,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Switch Transformer's auxiliary loss (arXiv:2101.03961, eqs. 4-6), as transformers 5.23.0's
    `load_balancing_loss_func` computes it: `num_experts * sum_e f_e * P_e`, where over the tokens
    of every layer f_e is the share of top-k assignments that went to expert e and P_e the mean
    router probability of e. It equals top_k when routing is uniform and grows as routing concentrates.

    `router_logits`: one (B * T, num_experts) tensor per layer, in the model's dtype (the softmax
    runs in that dtype, as in transformers). `attention_mask`: the (B, T_all) padding mask, whose
    last T columns are the routed tokens (a cached decoding step routes only its new tokens, where
    transformers fails); tokens where it is 0 count for neither f nor P. Returns a float32 scalar.
    """
    device = router_logits[0].device
    rows = router_logits[0].shape[0]
    if attention_mask is None:  # weights of 1 give transformers' unmasked sums exactly
        token_weights = torch.ones(rows, dtype=torch.float32, device=device)
    else:
        routed = attention_mask[:, attention_mask.shape[1] - rows // attention_mask.shape[0] :]  # (B, T)
        token_weights = routed.reshape(-1).to(device=device, dtype=torch.float32)
    assignments = torch.zeros(num_experts, dtype=torch.float32, device=device)
    probabilities = torch.zeros(num_experts, dtype=torch.float32, device=device)
    total = torch.zeros((), dtype=torch.float32, device=device)
    # sums over layers, normalised once at the end: memory stays O(tokens * experts)
    for layer_logits in router_logits:
        routing_weights = nn.functional.softmax(layer_logits.to(device), dim=-1)  # (N, E)
        _, selected_experts = torch.topk(routing_weights, top_k, dim=-1)  # (N, K)
        counts = torch.zeros(num_experts, dtype=torch.float32, device=device)
        counts.scatter_add_(0, selected_experts.reshape(-1), token_weights.repeat_interleave(top_k))
        assignments = assignments + counts
        probabilities = probabilities + (routing_weights.float() * token_weights.unsqueeze(-1)).sum(dim=0)
        total = total + token_weights.sum()
    tokens_per_expert = assignments / total
    router_prob_per_expert = probabilities / total
    return torch.sum(tokens_per_expert * router_prob_per_expert.unsqueeze(0)) * num_experts
