"""Ada-CM's loss (``adacm.algorithms.adacm``) on crafted batches with a tiny deterministic model:
its terms against a hand computation, the Lu/Lc switches of Table 1's ablations, the joint forward;
and FixMatch with a fixed threshold on the same batches."""

import pytest
import torch
import torch.nn.functional as F
from conftest import Flat
from torch import nn

from adacm.algorithms import Batch, build_algorithm
from adacm.algorithms.losses import info_nce
from adacm.models.heads import FERNet


def make_batch(n_views: int, seed: int = 0) -> tuple[nn.Module, Batch]:
    torch.manual_seed(seed)
    model = FERNet(Flat(), 12, 7, dropout=0.0)
    with torch.no_grad():
        model.classifier.weight.mul_(20)  # confident predictions so that some pass the margin
    x = torch.rand(6, 3, 4, 4)
    views = [torch.rand(8, 3, 4, 4) for _ in range(n_views)]
    return model, Batch(x=x, y=torch.randint(0, 7, (6,)), u_views=views, u_true=torch.randint(0, 7, (8,)))


def adacm_terms(model: nn.Module, batch: Batch, margin: list[float]) -> tuple[float, float, float]:
    """Lx, Lu, Lc computed independently of the algorithm module."""
    lx = F.cross_entropy(model(batch.x)[0], batch.y).item()
    (la, fa), (lb, fb), (ls, _) = (model(v) for v in batch.u_views)
    p = (la.softmax(1) + lb.softmax(1)) / 2
    conf, pseudo = p.max(1)
    mask = conf >= torch.tensor(margin)[pseudo]
    lu = (F.cross_entropy(ls, pseudo, reduction="none") * mask).sum().item() / len(mask)
    lc = info_nce(fa[~mask], fb[~mask], 0.07).item()
    return lx, lu, lc


@pytest.mark.parametrize("method,weights", [("adacm", (0.5, 1, 0.1)), ("adacm_lu", (0.5, 1, 0)),
                                            ("adacm_lc", (0.5, 0, 0.1))])
def test_adacm_loss_and_switches(method: str, weights: tuple[float, float, float]) -> None:
    model, batch = make_batch(3)
    algo = build_algorithm(method, 7, joint_forward=False)
    margin = [0.3, 0.35, 0.4, 0.8, 0.3, 0.3, 0.3]  # class 3 (all predictions here) at 0.8: 3 of 8 pass
    algo.threshold.load_state_dict({"values": margin})
    loss, stats = algo.loss(model, batch)
    lx, lu, lc = adacm_terms(model, batch, margin)
    assert 0 < stats["mask_rate"] < 1, "the crafted batch must exercise both subsets"
    assert loss.item() == pytest.approx(weights[0] * lx + weights[1] * lu + weights[2] * lc, rel=1e-5)


def test_lc_gradient_reaches_both_weak_views() -> None:
    model, batch = make_batch(3)
    for v in batch.u_views:
        v.requires_grad_(True)
    algo = build_algorithm("adacm_lc", 7, joint_forward=False)
    algo.threshold.load_state_dict({"values": [1.0] * 7})  # everything in subset II
    loss, _ = algo.loss(model, batch)
    loss.backward()
    a, b, s = batch.u_views
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert s.grad is None or s.grad.abs().sum() == 0  # Lu off: the strong view gets no gradient


def test_joint_forward_equals_separate_without_batchnorm() -> None:
    model, batch = make_batch(3)
    a, b = build_algorithm("adacm", 7, joint_forward=True), build_algorithm("adacm", 7, joint_forward=False)
    assert a.loss(model, batch)[0].item() == pytest.approx(b.loss(model, batch)[0].item(), rel=1e-5)


def test_fixmatch_masks_with_fixed_threshold() -> None:
    model, batch = make_batch(2)
    algo = build_algorithm("fixmatch@0.5", 7, joint_forward=False)
    loss, stats = algo.loss(model, batch)
    lw, ls = model(batch.u_views[0])[0], model(batch.u_views[1])[0]
    conf, pseudo = lw.softmax(1).max(1)
    lu = (F.cross_entropy(ls, pseudo, reduction="none") * (conf >= 0.5)).mean()
    lx = F.cross_entropy(model(batch.x)[0], batch.y)
    assert loss.item() == pytest.approx((lx + lu).item(), rel=1e-5)
    assert stats["mask_rate"] == pytest.approx((conf >= 0.5).float().mean().item())
