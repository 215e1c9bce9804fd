"""Margin-Mix (Florea, Badea, Florea, Racoviteanu & Vertan, "Margin-Mix: Semi-Supervised
Learning for Face Expression Recognition", ECCV 2020) — a reconstruction.

What is known (the paper's full text could not be consulted here; these are all the sources
found): the abstract — the network gives, for an input image, both an embedding and a
prediction; unlabeled data is combined with labeled data to make synthetic (mixed) samples;
the network is asked to keep a large margin between clusters; new (unlabeled) data is
self-labeled by its distance to class centroids in the embedding space. The paper's
footnote: its code is developed from the PyTorch MixMatch implementation (YU1ut/MixMatch-
pytorch). Ada-CM (Sec. 2): Margin-Mix extends MixMatch and determines the artificial labels
of unlabeled samples from the embeddings of class centres, not from a confidence margin, and
its centre updating is costly. Ada-CM's Table 3 runs it with WRN-28-2 on RAF-DB.

What is assumed here (each a choice of this suite, not the paper's):
- the embedding is the shared head's L2-normalised feature (``FERNet``), the one the
  classifier sees;
- class centroids are exponential moving averages (momentum 0.9) of the per-class mean
  feature of each batch's labeled images (from the gradient-free guessing pass), normalised
  to unit length — a cheap stand-in for recomputing centres over the labeled set;
- the self-label: softmax over classes of cos(embedding, centroid)/τ_c (τ_c = 0.1), averaged
  over the K weak views and sharpened (T) as in MixMatch; until every class has a centroid
  (the first few steps) MixMatch's classifier guess is used;
- the margin term: for every mixed sample (labeled and unlabeled chunks) with dominant class
  y = argmax of its mixed target, the hinge max(0, m − (cos(f, c_y) − max_{k≠y} cos(f, c_k)))
  with m = 0.3, averaged over the mixed batch, weighted λ_m = 1 and ramped up with λu;
- everything else is MixMatch as in ``mixmatch.py`` (K = 2, T = 0.5, α = 0.75, λu = 75 with
  a linear ramp-up over 40% of training, L2 unlabeled loss).

The self-labels are only as good as the class centroids: class means of an embedding not yet
shaped for expressions can separate them worse than a linear classifier trained on the same
labels, and the L2 term (λu = 75) holds the classifier near whatever the centroids say.
MarginMix's own schedule is hundreds of epochs, this suite's 10–20. The reconstruction is kept
as described above, not tuned to the suite's results; how it fares: the stored runs under
results/cpu/table3 and the smoke check in ``tests/test_trainer.py``; see docs/findings.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adacm.algorithms.base import Batch, forward_views
from adacm.algorithms.mixing import guess_labels, guess_stats, linear_rampup
from adacm.algorithms.mixmatch import MixMatch


def margin_hinge(feats: torch.Tensor, centroids: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
    """mean of max(0, m − (cos to the target class's centroid − the largest cos to another one))."""
    sims = feats.float() @ centroids.T
    y = targets.argmax(dim=1, keepdim=True)
    own = sims.gather(1, y).squeeze(1)
    other = sims.scatter(1, y, float("-inf")).max(dim=1).values
    return F.relu(margin - (own - other)).mean()


class MarginMix(MixMatch):
    def __init__(self, num_classes: int, k: int = 2, temperature: float = 0.5, alpha: float = 0.75,
                 lambda_u: float = 75.0, rampup: float = 0.4, lambda_m: float = 1.0, margin: float = 0.3,
                 centroid_temperature: float = 0.1, momentum: float = 0.9, generator: torch.Generator | None = None,
                 joint_forward: bool = True) -> None:
        super().__init__(num_classes, k=k, temperature=temperature, alpha=alpha, lambda_u=lambda_u, rampup=rampup,
                         generator=generator, joint_forward=joint_forward)
        self.lambda_m, self.margin = lambda_m, margin
        self.centroid_temperature, self.momentum = centroid_temperature, momentum
        self.centroid_means: torch.Tensor | None = None  # (classes, feature dim), created at the first batch
        self.seen = torch.zeros(num_classes, dtype=torch.bool)

    @torch.no_grad()
    def update_centroids(self, feats: torch.Tensor, y: torch.Tensor) -> None:
        if self.centroid_means is None:
            self.centroid_means = torch.zeros(self.num_classes, feats.shape[1], device=feats.device)
        self.centroid_means = means = self.centroid_means.to(feats.device)  # restored states come on the CPU
        for c in y.unique().tolist():
            mean = feats[y == c].float().mean(dim=0).to(means.device)
            means[c] = mean if not self.seen[c] else self.momentum * means[c] + (1 - self.momentum) * mean
            self.seen[c] = True

    def centroids(self) -> torch.Tensor | None:
        """Unit-length class centroids, or None while some class has none yet."""
        if self.centroid_means is None or not self.seen.all():
            return None
        return F.normalize(self.centroid_means, dim=1)

    def guess(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        with torch.no_grad():
            (_, feats_x), *outs = forward_views(model, [batch.x, *batch.u_views], self.joint_forward)
        self.update_centroids(feats_x, batch.y)
        centroids = self.centroids()
        if centroids is None:
            probs = [torch.softmax(logits.float(), dim=1) for logits, _ in outs]
        else:
            probs = [torch.softmax(feats.float() @ centroids.to(feats.device).T / self.centroid_temperature, dim=1)
                     for _, feats in outs]
        return guess_labels(probs, self.temperature)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        q = self.guess(model, batch)
        loss_x, loss_u, feats, mixed_t, w_u = self.mixmatch_terms(model, batch, q)
        centroids = self.centroids()
        loss_m = feats.new_zeros((), dtype=torch.float32) if centroids is None \
            else margin_hinge(feats, centroids.to(feats.device), mixed_t, self.margin)
        w_m = self.lambda_m * linear_rampup(batch.step, batch.total_steps, self.rampup)
        loss = loss_x + w_u * loss_u + w_m * loss_m
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), "loss_m": loss_m.item(), "w_u": w_u,
                      **guess_stats(q, batch.u_true)}

    def state_dict(self) -> dict[str, object]:
        means = None if self.centroid_means is None else self.centroid_means.detach().cpu().clone()
        return {**super().state_dict(), "centroid_means": means, "seen": self.seen.clone()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        if "seen" in state:
            means = state["centroid_means"]
            self.centroid_means = None if means is None else torch.as_tensor(means).clone().float()
            self.seen = torch.as_tensor(state["seen"]).clone().bool()
