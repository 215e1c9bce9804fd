import math

import pytest
import torch
import torch.nn.functional as F

from adacm.algorithms.losses import info_nce, masked_cross_entropy


def reference_info_nce(za: torch.Tensor, zb: torch.Tensor, t: float) -> float:
    """Eq. 9 as SimCLR/SupCon compute it, written out with loops over the 2N anchors."""
    z = torch.cat([za, zb])
    n = len(za)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denominator = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[j]) / t) / denominator)
    return total / (2 * n)


def test_info_nce_equals_formula() -> None:
    g = torch.Generator().manual_seed(0)
    za = F.normalize(torch.randn(5, 8, generator=g), dim=1)
    zb = F.normalize(torch.randn(5, 8, generator=g), dim=1)
    assert info_nce(za, zb, 0.07).item() == pytest.approx(reference_info_nce(za, zb, 0.07), rel=1e-4)
    assert info_nce(za, zb, 0.5).item() == pytest.approx(reference_info_nce(za, zb, 0.5), rel=1e-5)


def test_info_nce_backpropagates_into_both_views() -> None:
    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 6, generator=g, requires_grad=True)
    b = torch.randn(4, 6, generator=g, requires_grad=True)
    info_nce(F.normalize(a, dim=1), F.normalize(b, dim=1)).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert b.grad is not None and b.grad.abs().sum() > 0


def test_info_nce_of_empty_subset_is_zero() -> None:
    assert info_nce(torch.zeros(0, 4), torch.zeros(0, 4)).item() == 0.0


def test_masked_cross_entropy_divides_by_whole_batch() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.0]])
    targets = torch.tensor([0, 1, 0, 1])
    mask = torch.tensor([True, False, True, False])
    per = F.cross_entropy(logits, targets, reduction="none")
    assert masked_cross_entropy(logits, targets, mask).item() == pytest.approx((per[0] + per[2]).item() / 4)
