"""The algorithms package (``adacm.algorithms``): the registry, and each compared SSL method's loss
on a crafted batch against an independent hand computation, and its state round-trip. Ada-CM's
loss: test_adacm.py; the threshold policies: test_thresholds.py; the MixUp helpers: test_mixing.py."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from conftest import Flat
from torch import nn

import adacm.algorithms.mixing as mixing
from adacm.algorithms import METHODS, Batch, build_algorithm
from adacm.algorithms.fixmatch import FixMatch
from adacm.algorithms.remixmatch import DistributionAlignment
from adacm.algorithms.thresholds import FixedThreshold, FlexMatchThreshold
from adacm.errors import UserError
from adacm.models.heads import FERNet


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Crafted batches are tiny: one thread is faster, and the rest of the suite keeps its count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


C = 7
N_POOL = 42  # size of the crafted unlabeled pool that u_index points into (6 per class)


def tiny_model(seed: int = 0, scale: float = 20.0) -> nn.Module:
    """No batch-norm, no dropout: every sample's output depends on itself only."""
    torch.manual_seed(seed)
    model = FERNet(Flat(), 12, C, dropout=0.0)
    with torch.no_grad():
        model.classifier.weight.mul_(scale)
    return model


def make_batch(views: tuple[str, ...], seed: int = 0, n: int = 8, step: int = 0, total: int = 100,
               y: torch.Tensor | None = None) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(x=torch.rand(n, 3, 4, 4, generator=g),
                 y=torch.randint(0, C, (n,), generator=g) if y is None else y,
                 u_views=[torch.rand(n, 3, 4, 4, generator=g) for _ in views],
                 u_true=torch.randint(0, C, (n,), generator=g), step=step, total_steps=total,
                 u_index=torch.randperm(N_POOL, generator=g)[:n])


def prepared(name: str, **overrides: object) -> tuple[object, nn.Module]:
    """The algorithm, ready to run on crafted batches (pool size, teacher)."""
    algo = build_algorithm(name, C, joint_forward=True, overrides=overrides or None)
    algo.set_unlabeled_size(N_POOL)
    model = tiny_model()
    if algo.needs_teacher:
        algo.teacher = tiny_model(seed=1).eval()
    return algo, model


def fix_mixup(monkeypatch: pytest.MonkeyPatch, lam: float, perm: torch.Tensor) -> None:
    monkeypatch.setattr(mixing, "sample_mixup", lambda n, alpha, generator=None: (lam, perm))


def sharpen_by_hand(p: torch.Tensor, t: float) -> torch.Tensor:
    s = p ** (1 / t)
    return s / s.sum(1, keepdim=True)


def mix_by_hand(a: torch.Tensor, lam: float, perm: torch.Tensor) -> torch.Tensor:
    return lam * a + (1 - lam) * a[perm]


def soft_ce_by_hand(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * logits.log_softmax(1)).sum(1).mean()


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("joint", [True, False])
def test_every_registered_method_builds_and_runs(joint: bool) -> None:
    for name in [*METHODS, "fixmatch@0.5", "fixmatch@0.8"]:
        algo = build_algorithm(name, C, joint_forward=joint)
        algo.set_unlabeled_size(N_POOL)
        model = tiny_model()
        if algo.needs_teacher:
            algo.teacher = tiny_model(seed=1).eval()
        loss, stats = algo.loss(model, make_batch(algo.unlabeled_views))
        assert loss.requires_grad and torch.isfinite(loss), name
        assert all(isinstance(v, float | int) for v in stats.values()), name


def test_flexmatch_is_fixmatch_with_another_policy() -> None:
    flex, fixed = build_algorithm("flexmatch", C, True), build_algorithm("fixmatch", C, True)
    assert type(flex) is type(fixed) is FixMatch
    assert isinstance(flex.threshold, FlexMatchThreshold) and type(fixed.threshold) is FixedThreshold
    assert flex.lambda_u == fixed.lambda_u and flex.threshold.tau == fixed.threshold.tau == 0.95
    assert [build_algorithm(f"fixmatch@{t}", C, True).threshold.tau for t in (0.5, 0.8)] == [0.5, 0.8]
    # every class fully learned (β = 1): FlexMatch's thresholds are τ, so its loss is FixMatch's
    flex.threshold.load_state_dict({"selected": torch.arange(N_POOL) % C})
    assert flex.threshold.values().tolist() == pytest.approx([0.95] * C)
    model, batch = tiny_model(), make_batch(("weak", "strong"))
    assert flex.loss(model, batch)[0].item() == pytest.approx(fixed.loss(model, batch)[0].item(), rel=1e-6)


def test_unknown_method_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="unknown method 'fixmach'"):
        build_algorithm("fixmach", 7, joint_forward=True)
    with pytest.raises(UserError, match="only fixmatch"):
        build_algorithm("adacm@0.5", 7, joint_forward=True)


# ------------------------------------------------------------------- Pseudo-Labeling


@pytest.mark.parametrize("step,warm", [(0, 0.0), (20, 0.5), (40, 1.0), (99, 1.0)])
def test_pseudo_label_loss_and_warmup(step: int, warm: float) -> None:
    algo, model = prepared("pseudo_label", threshold=0.6)
    batch = make_batch(algo.unlabeled_views, step=step)
    loss, stats = algo.loss(model, batch)
    lx = F.cross_entropy(model(batch.x)[0], batch.y)
    lu_logits = model(batch.u_views[0])[0]
    conf, pseudo = lu_logits.softmax(1).max(1)
    mask = conf >= 0.6
    lu = (F.cross_entropy(lu_logits, pseudo, reduction="none") * mask).mean()  # same forward is trained
    assert 0 < mask.float().mean() < 1, "the crafted batch must exercise the mask"
    assert loss.item() == pytest.approx((lx + warm * lu).item(), rel=1e-5)
    assert stats["w_u"] == pytest.approx(warm)


# ----------------------------------------------------------------------------- MixMatch


def mixmatch_by_hand(model: nn.Module, batch: Batch, lam: float, perm: torch.Tensor, t: float = 0.5,
                     ramp: float = 1.0, lambda_u: float = 75.0) -> float:
    u1, u2 = batch.u_views
    p = (model(u1)[0].softmax(1) + model(u2)[0].softmax(1)) / 2
    q = sharpen_by_hand(p, t)
    inputs = torch.cat([batch.x, u1, u2])
    targets = torch.cat([F.one_hot(batch.y, C).float(), q, q])
    logits = model(mix_by_hand(inputs, lam, perm))[0]
    mt = mix_by_hand(targets, lam, perm)
    n = len(batch.x)
    lx = soft_ce_by_hand(logits[:n], mt[:n])
    lu = ((logits[n:].softmax(1) - mt[n:]) ** 2).mean()
    return (lx + lambda_u * ramp * lu).item()


@pytest.mark.parametrize("joint", [True, False])
def test_mixmatch_loss_by_hand(monkeypatch: pytest.MonkeyPatch, joint: bool) -> None:
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(3))
    fix_mixup(monkeypatch, 0.7, perm)
    algo = build_algorithm("mixmatch", C, joint_forward=joint)  # joint=False: interleaved chunks
    model = tiny_model(scale=3.0)
    batch = make_batch(algo.unlabeled_views, step=20)  # 20 / (0.4 · 100): half-way up the ramp
    loss, stats = algo.loss(model, batch)
    assert loss.item() == pytest.approx(mixmatch_by_hand(model, batch, 0.7, perm, ramp=0.5), rel=1e-5)
    assert stats["w_u"] == pytest.approx(37.5)


def test_mixmatch_gradient_flows_only_through_the_mixed_pass() -> None:
    algo, model = prepared("mixmatch", generator=torch.Generator().manual_seed(0))
    batch = make_batch(algo.unlabeled_views, step=50)
    loss, _ = algo.loss(model, batch)
    loss.backward()
    assert model.classifier.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------- UDA


def uda_lu_by_hand(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    lw, ls = model(batch.u_views[0])[0], model(batch.u_views[1])[0]
    mask = lw.softmax(1).max(1).values >= 0.8
    q = (lw / 0.4).softmax(1)
    kl = (q * (q.log() - ls.log_softmax(1))).sum(1)
    return (kl * mask).sum() / len(mask), mask


def test_uda_masked_kl_by_hand() -> None:
    algo, model = prepared("uda")
    batch = make_batch(algo.unlabeled_views)
    loss, stats = algo.loss(model, batch)
    lu, mask = uda_lu_by_hand(model, batch)
    lx = F.cross_entropy(model(batch.x)[0], batch.y)
    assert 0 < mask.float().mean() < 1, "the crafted batch must exercise the mask"
    assert loss.item() == pytest.approx((lx + lu).item(), rel=1e-5)
    assert stats["loss_u"] == pytest.approx(lu.item(), rel=1e-5)


def test_uda_training_signal_annealing() -> None:
    algo, model = prepared("uda", tsa="linear")
    batch = make_batch(algo.unlabeled_views, step=30)
    loss, stats = algo.loss(model, batch)
    eta = 0.3 * (1 - 1 / C) + 1 / C  # linear schedule at 30% of training
    logits = model(batch.x)[0]
    keep = logits.softmax(1).gather(1, batch.y[:, None]).squeeze(1) <= eta
    assert 0 < keep.float().mean() < 1, "the crafted batch must exercise TSA"
    lx = F.cross_entropy(logits[keep], batch.y[keep])  # averaged over the labeled images kept
    assert loss.item() == pytest.approx((lx + uda_lu_by_hand(model, batch)[0]).item(), rel=1e-5)
    assert stats["tsa_kept"] == pytest.approx(keep.float().mean().item())
    with pytest.raises(Exception, match="tsa"):
        build_algorithm("uda", C, True, {"tsa": "cosine"})


# ---------------------------------------------------------------------------- FlexMatch


def test_flexmatch_masks_with_the_thresholds_of_previous_steps() -> None:
    algo, _ = prepared("flexmatch")
    model = tiny_model(scale=3.0)  # moderate confidences, so that per-class thresholds matter
    # classes 0–3 selected 6 times, 4–6 twice, 12 images unused: β = 6/12 and 2/12
    algo.threshold.load_state_dict({"selected": torch.tensor([c for c in range(4) for _ in range(6)]
                                                             + [c for c in range(4, 7) for _ in range(2)] + [-1] * 12)})
    before = algo.threshold.values().clone()
    assert before.tolist() == pytest.approx([0.95 * (1 / 3)] * 4 + [0.95 * (1 / 11)] * 3)
    batch = make_batch(algo.unlabeled_views)
    loss, stats = algo.loss(model, batch)
    lw, ls = model(batch.u_views[0])[0], model(batch.u_views[1])[0]
    conf, pseudo = lw.softmax(1).max(1)
    mask = conf >= before[pseudo]
    assert 0 < mask.float().mean() < 1, "the crafted batch must exercise the per-class thresholds"
    lu = (F.cross_entropy(ls, pseudo, reduction="none") * mask).mean()
    lx = F.cross_entropy(model(batch.x)[0], batch.y)
    assert loss.item() == pytest.approx((lx + lu).item(), rel=1e-5)
    assert stats["mask_rate"] == pytest.approx(mask.float().mean().item())


def test_flexmatch_records_confident_predictions_after_masking() -> None:
    calls: list[str] = []

    class Spy(FlexMatchThreshold):
        def mask(self, probs: torch.Tensor) -> torch.Tensor:
            calls.append("mask")
            return super().mask(probs)

        def observe(self, probs: torch.Tensor, index: torch.Tensor) -> None:
            calls.append("observe")
            super().observe(probs, index)

    algo = FixMatch(C, policy=Spy)
    algo.set_unlabeled_size(N_POOL)
    model = tiny_model()
    batch = make_batch(algo.unlabeled_views)
    algo.loss(model, batch)
    assert calls == ["mask", "observe"]
    conf, pseudo = model(batch.u_views[0])[0].softmax(1).max(1)
    chosen = conf >= 0.95
    assert 0 < chosen.sum() < len(chosen)
    assert torch.equal(algo.threshold.selected[batch.u_index[chosen]], pseudo[chosen])
    assert (algo.threshold.selected[batch.u_index[~chosen]] == -1).all()
    with pytest.raises(ValueError, match="u_index"):
        algo.loss(model, Batch(batch.x, batch.y, batch.u_views, batch.u_true))
    with pytest.raises(RuntimeError, match="set_unlabeled_size"):
        build_algorithm("flexmatch", C, True).loss(model, batch)


# -------------------------------------------------------------------------- MeanTeacher


@pytest.mark.parametrize("step,ramp", [(0, math.exp(-5)), (20, math.exp(-1.25)), (40, 1.0), (80, 1.0)])
def test_meanteacher_consistency_and_sigmoid_rampup(step: int, ramp: float) -> None:
    algo, model = prepared("meanteacher")
    assert algo.needs_teacher
    batch = make_batch(algo.unlabeled_views, step=step)
    loss, stats = algo.loss(model, batch)
    student = model(batch.u_views[0])[0].softmax(1)
    teacher = algo.teacher(batch.u_views[1])[0].softmax(1)
    lc = ((student - teacher) ** 2).mean()
    lx = F.cross_entropy(model(batch.x)[0], batch.y)
    assert loss.item() == pytest.approx((lx + 50 * ramp * lc).item(), rel=1e-5)
    assert stats["w_u"] == pytest.approx(50 * ramp)
    loss.backward()
    assert all(p.grad is None for p in algo.teacher.parameters())
    with pytest.raises(RuntimeError, match="teacher"):
        build_algorithm("meanteacher", C, True).loss(model, batch)


# --------------------------------------------------------------------------- ReMixMatch


def test_distribution_alignment_uses_the_last_batches() -> None:
    da = DistributionAlignment(3, window=2)
    batches = [torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]]), torch.tensor([[0.8, 0.1, 0.1]] * 2),
               torch.tensor([[0.4, 0.4, 0.2], [0.5, 0.1, 0.4]])]
    for p in batches:
        aligned = da(p)
    p_bar = (batches[1].mean(0) + batches[2].mean(0)) / 2  # the first batch has left the window
    expected = batches[2] * (torch.full((3,), 1 / 3) / p_bar)
    assert torch.allclose(aligned, expected / expected.sum(1, keepdim=True))
    assert torch.allclose(da.p_model(), p_bar)
    skewed = DistributionAlignment(3, p_target=[0.5, 0.25, 0.25])
    out = skewed(batches[0])
    ref = batches[0] * torch.tensor([0.5, 0.25, 0.25]) / batches[0].mean(0)
    assert torch.allclose(out, ref / ref.sum(1, keepdim=True))


def test_remixmatch_loss_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    perm = torch.randperm(32, generator=torch.Generator().manual_seed(5))
    fix_mixup(monkeypatch, 0.8, perm)
    algo, model = prepared("remixmatch")
    model = tiny_model(scale=3.0)
    weak, s1, s2 = (batch := make_batch(algo.unlabeled_views, step=100, total=12800)).u_views  # ramp 100/200
    loss, stats = algo.loss(model, batch)
    p = model(weak)[0].softmax(1)
    aligned = p * (1 / C) / p.mean(0)  # the first batch: p̄ is this batch's mean
    q = sharpen_by_hand(aligned / aligned.sum(1, keepdim=True), 0.5)
    inputs = torch.cat([batch.x, s1, s2, weak])
    targets = torch.cat([F.one_hot(batch.y, C).float(), q, q, q])
    logits, mt = model(mix_by_hand(inputs, 0.8, perm))[0], mix_by_hand(targets, 0.8, perm)
    lx, lu = soft_ce_by_hand(logits[:8], mt[:8]), soft_ce_by_hand(logits[8:], mt[8:])
    lu1 = soft_ce_by_hand(model(s1)[0], q)
    assert loss.item() == pytest.approx((lx + 0.5 * (1.5 * lu + 0.5 * lu1)).item(), rel=1e-5)
    assert stats["loss_u1"] == pytest.approx(lu1.item(), rel=1e-5)
    assert algo.unlabeled_views == ("weak", "strong", "strong")
    assert build_algorithm("remixmatch", C, True, {"k": 4}).unlabeled_views == ("weak",) + ("strong",) * 4


# ----------------------------------------------------------------------------- MarginMix


def test_marginmix_without_centroids_is_mixmatch(monkeypatch: pytest.MonkeyPatch) -> None:
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(1))
    fix_mixup(monkeypatch, 0.6, perm)
    algo = build_algorithm("marginmix", C, True)
    model = tiny_model(scale=3.0)
    batch = make_batch(algo.unlabeled_views, step=40, y=torch.tensor([0, 1, 2, 0, 1, 2, 3, 3]))  # classes 4–6 unseen
    loss, stats = algo.loss(model, batch)
    assert stats["loss_m"] == 0.0 and algo.centroids() is None
    assert loss.item() == pytest.approx(mixmatch_by_hand(model, batch, 0.6, perm), rel=1e-5)


def test_marginmix_centroid_guess_and_margin_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(2))
    fix_mixup(monkeypatch, 0.75, perm)
    algo = build_algorithm("marginmix", C, True)
    model = tiny_model(scale=3.0)
    old = F.normalize(torch.randn(C, 12, generator=torch.Generator().manual_seed(4)), dim=1)
    algo.load_state_dict({"centroid_means": old.clone(), "seen": torch.ones(C, dtype=torch.bool)})
    batch = make_batch(algo.unlabeled_views, step=20)
    loss, stats = algo.loss(model, batch)

    feats_x = model(batch.x)[1]
    means = old.clone()
    for c in batch.y.unique():
        means[c] = 0.9 * means[c] + 0.1 * feats_x[batch.y == c].mean(0)
    cent = F.normalize(means, dim=1)
    u1, u2 = batch.u_views
    post = ((model(u1)[1] @ cent.T / 0.1).softmax(1) + (model(u2)[1] @ cent.T / 0.1).softmax(1)) / 2
    q = sharpen_by_hand(post, 0.5)
    inputs = torch.cat([batch.x, u1, u2])
    targets = torch.cat([F.one_hot(batch.y, C).float(), q, q])
    logits, feats = model(mix_by_hand(inputs, 0.75, perm))
    mt = mix_by_hand(targets, 0.75, perm)
    lx = soft_ce_by_hand(logits[:8], mt[:8])
    lu = ((logits[8:].softmax(1) - mt[8:]) ** 2).mean()
    sims = feats @ cent.T
    hinge = []
    for s, y in zip(sims, mt.argmax(1)):
        others = torch.cat([s[:y], s[y + 1:]])
        hinge.append(max(0.0, 0.3 - (s[y] - others.max()).item()))
    lm = sum(hinge) / len(hinge)
    assert 0 < lm
    assert stats["loss_m"] == pytest.approx(lm, rel=1e-5)
    assert loss.item() == pytest.approx(lx.item() + 75 * 0.5 * lu.item() + 0.5 * lm, rel=1e-5)
    assert torch.allclose(algo.centroid_means, means, atol=1e-6)


# ------------------------------------------------------------------------ state round-trip


@pytest.mark.parametrize("name", sorted(METHODS))
def test_state_dict_round_trips(name: str) -> None:
    """After a few steps, a fresh algorithm loaded from the state continues exactly alike."""
    algo, model = prepared(name)
    for seed in range(3):
        torch.manual_seed(seed)
        algo.loss(model, make_batch(algo.unlabeled_views, seed=seed, step=seed))
    state = copy.deepcopy(algo.state_dict())
    fresh, _ = prepared(name)
    fresh.teacher = algo.teacher
    fresh.load_state_dict(state)
    batch = make_batch(algo.unlabeled_views, seed=9, step=50)
    torch.manual_seed(7)
    a = algo.loss(model, batch)[0].item()
    torch.manual_seed(7)
    b = fresh.loss(model, batch)[0].item()
    assert a == b
    if name in ("flexmatch", "remixmatch", "marginmix"):  # methods whose state is not a fixed threshold
        assert state != {} and fresh.state_dict().keys() == algo.state_dict().keys()


@pytest.mark.parametrize("method", ["pseudo_label", "uda", "fixmatch", "adacm"])
def test_every_pseudo_labelling_method_takes_a_threshold_policy(method: str) -> None:
    # the policy decides the mask and observes every batch: a threshold of 0 passes every image,
    # and the spy sees the batch's unlabeled indices once per loss
    seen: list[torch.Tensor] = []

    class Spy(FixedThreshold):
        def observe(self, probs: torch.Tensor, index: torch.Tensor | None) -> None:
            seen.append(index)

    entry = METHODS[method]
    algo = entry.cls(C, **{**entry.args, "policy": lambda tau, num_classes: Spy(1e-9, num_classes)})
    batch = make_batch(algo.unlabeled_views)
    if algo.needs_teacher:
        algo.teacher = tiny_model()
    _, stats = algo.loss(tiny_model(), batch)
    assert stats["mask_rate"] == 1.0
    assert len(seen) == 1 and torch.equal(seen[0], batch.u_index)


def test_a_threshold_policy_is_not_a_command_line_option() -> None:
    # --set takes JSON values; a policy is a callable, chosen by a registry entry (e.g. flexmatch)
    with pytest.raises(UserError, match="--set policy: not an option of fixmatch on the command line"):
        build_algorithm("fixmatch", C, True, {"policy": "flexmatch"})
