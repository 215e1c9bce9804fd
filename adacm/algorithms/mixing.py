"""What MixMatch, ReMixMatch and MarginMix share: label guessing by sharpening, mixup with
λ' = max(λ, 1−λ) over the concatenated labeled and unlabeled batches, the forward pass over
the mixed chunks, soft cross-entropy, and the ramp-ups of the unlabeled loss weights
(also used by Pseudo-Labeling and MeanTeacher).

Randomness: ``sample_mixup`` draws λ and the partner permutation from a torch generator, the
global one by default, which the trainer seeds per run and restores on resume (so a resumed
run mixes exactly as an uninterrupted one). Tests pass their own seeded generator.

Batch-norm over mixed batches: MixMatch's reference code forwards the labeled chunk and the
unlabeled chunks separately and *interleaves* them first (swapping a proportional share of
samples between chunks) so that every batch-norm batch is representative of the whole. With
``joint=True`` (one forward over all mixed samples, the suite's fast path) every sample is
normalised with the statistics of the whole mixed batch, which is what interleaving
emulates, so nothing more is done. With ``joint=False`` (one forward per chunk, as the
official Ada-CM code runs) the chunks are interleaved as in the reference code when they
have equal sizes (the suite's 16 labeled + 16 unlabeled), and forwarded as they are
otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adacm.algorithms.base import Algorithm, Outputs, forward_views


def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """MixMatch's Sharpen: p^(1/T), renormalised over classes."""
    p = probs.float() ** (1.0 / temperature)
    return p / p.sum(dim=1, keepdim=True)


def guess_labels(probs: Sequence[torch.Tensor], temperature: float) -> torch.Tensor:
    """MixMatch's label guess: the mean of the views' class distributions, sharpened (detached)."""
    return sharpen(torch.stack([p.detach().float() for p in probs]).mean(dim=0), temperature)


def sample_mixup(n: int, alpha: float, generator: torch.Generator | None = None) -> tuple[float, torch.Tensor]:
    """λ ~ Beta(α, α) turned into λ' = max(λ, 1−λ), and the mixup partners (a permutation of n).

    Everything is drawn from ``generator`` (the global torch RNG when None): the Beta draw uses
    a numpy generator seeded from it, since torch's Beta sampler takes no generator.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    lam = float(np.random.default_rng(seed).beta(alpha, alpha)) if alpha > 0 else 1.0
    return max(lam, 1.0 - lam), torch.randperm(n, generator=generator)


def mixup(t: torch.Tensor, lam: float, perm: torch.Tensor) -> torch.Tensor:
    """λ·t + (1−λ)·t[perm] (inputs and targets alike)."""
    return lam * t + (1.0 - lam) * t[perm.to(t.device)]


def linear_rampup(step: int, total_steps: int, fraction: float) -> float:
    """0 → 1 linearly over the first ``fraction`` of training (1 from the start when 0)."""
    if fraction <= 0:
        return 1.0
    return float(np.clip(step / (fraction * total_steps), 0.0, 1.0))


def sigmoid_rampup(step: int, total_steps: int, fraction: float) -> float:
    """exp(−5(1−t)²), t = progress through the first ``fraction`` of training (Laine & Aila 2017)."""
    if fraction <= 0:
        return 1.0
    t = float(np.clip(step / (fraction * total_steps), 0.0, 1.0))
    return math.exp(-5.0 * (1.0 - t) ** 2)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over samples of −Σ_c target_c · log softmax(logits)_c."""
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def interleave(chunks: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """MixMatch's interleave: chunk 0 swaps its i-th slice with slice i of chunk i.

    All chunks must have the same length; the operation is its own inverse.
    """
    n, parts = len(chunks[0]), len(chunks)
    sizes = [n // parts] * parts
    for i in range(n - sum(sizes)):  # the remainder goes to the last slices, as in the reference code
        sizes[-i - 1] += 1
    bounds = np.cumsum([0, *sizes])
    pieces = [[c[bounds[p]:bounds[p + 1]] for p in range(parts)] for c in chunks]
    for i in range(1, parts):
        pieces[0][i], pieces[i][i] = pieces[i][i], pieces[0][i]
    return [torch.cat(p) for p in pieces]


def forward_mixed(model: nn.Module, chunks: list[torch.Tensor], joint: bool,
                  extra: Sequence[torch.Tensor] = ()) -> tuple[Outputs, Outputs]:
    """(logits, feature) of each mixed chunk and of each un-mixed ``extra`` view.

    ``joint``: one forward over everything. Otherwise the mixed chunks are interleaved (when
    their sizes agree), forwarded one by one and de-interleaved; extras are forwarded alone.
    """
    if joint:
        outs = forward_views(model, [*chunks, *extra], joint=True)
        return outs[:len(chunks)], outs[len(chunks):]
    if len(chunks) > 1 and len({len(c) for c in chunks}) == 1:
        outs = [model(c) for c in interleave(chunks)]
        mixed = list(zip(interleave([o[0] for o in outs]), interleave([o[1] for o in outs])))
    else:
        mixed = [model(c) for c in chunks]
    return mixed, [model(v) for v in extra]


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    return F.one_hot(y, num_classes).float()


def guess_stats(q: torch.Tensor, u_true: torch.Tensor) -> dict[str, float]:
    """Accuracy of the guessed labels' argmax on the unlabeled images whose label is known."""
    known = u_true >= 0
    if not known.any():
        return {}
    return {"pl_acc_all": (q.argmax(dim=1)[known] == u_true[known]).float().mean().item()}


class MixupAlgorithm(Algorithm):
    """Base of the mixup methods: mixup parameters, the mixing RNG and the mixed forward pass."""

    def __init__(self, num_classes: int, alpha: float, generator: torch.Generator | None,
                 joint_forward: bool) -> None:
        super().__init__(joint_forward)
        self.num_classes, self.alpha = num_classes, alpha
        self.generator = generator  # None: the global torch RNG (seeded and checkpointed by the trainer)

    def mix_forward(self, model: nn.Module, inputs: list[torch.Tensor], targets: list[torch.Tensor],
                    extra: Sequence[torch.Tensor] = ()) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Outputs]:
        """Concatenate ``inputs`` (chunks, the labeled one first) and their ``targets``, mix them up
        and forward the mixed chunks (with the un-mixed ``extra`` views). Returns (logits,
        features, mixed targets) over all chunks in order, and the extra views' outputs."""
        x, t = torch.cat(inputs), torch.cat(targets)
        lam, perm = sample_mixup(len(x), self.alpha, self.generator)
        mixed_x, mixed_t = mixup(x, lam, perm), mixup(t, lam, perm)
        outs, extra_outs = forward_mixed(model, list(mixed_x.split([len(c) for c in inputs])), self.joint_forward,
                                         extra)
        return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs]), mixed_t, extra_outs

    def state_dict(self) -> dict[str, object]:
        return {"generator": self.generator.get_state()} if self.generator is not None else {}

    def load_state_dict(self, state: dict[str, object]) -> None:
        if self.generator is not None and "generator" in state:
            self.generator.set_state(state["generator"])  # type: ignore[arg-type]
