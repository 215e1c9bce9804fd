"""The pseudo-labeling thresholds (``adacm.algorithms.thresholds``): Ada-CM's adaptive margin,
the fixed threshold and FlexMatch's class-wise thresholds."""

import copy
import math

import pytest
import torch

from adacm.algorithms.thresholds import (
    AdaptiveMargin,
    FixedThreshold,
    FlexMatchThreshold,
)


def test_margin_matches_hand_computation() -> None:
    # class 0: two correct predictions (0.99, 0.97) and one wrong one that must not count;
    # class 1: one correct prediction with low confidence (floor T0); class 2: none correct.
    probs = torch.tensor([
        [0.99, 0.01, 0.00],
        [0.97, 0.02, 0.01],
        [0.01, 0.99, 0.00],   # true class 0, predicted 1: excluded everywhere
        [0.30, 0.60, 0.10],
        [0.50, 0.40, 0.10],   # true class 2, predicted 0: excluded
    ])
    targets = torch.tensor([0, 0, 0, 1, 2])
    margin = AdaptiveMargin(num_classes=3, t0=0.8, b=0.97, gamma=math.e)
    margin.update_epoch(probs, targets, epoch=5)
    expected0 = 0.97 * 0.98 / (1 + math.exp(-5))   # = 0.9442…
    assert margin.values()[0].item() == pytest.approx(expected0, rel=1e-5)
    assert margin.values()[1].item() == pytest.approx(0.8)  # 0.97·0.6/(1+e^-5) < T0
    assert margin.values()[2].item() == pytest.approx(0.8)  # no correct prediction → T0


def test_margin_gamma_and_epoch_enter_as_official_form() -> None:
    probs = torch.tensor([[0.95, 0.05]])
    margin = AdaptiveMargin(num_classes=2, t0=0.0, b=0.9, gamma=2.0)
    margin.update_epoch(probs, torch.tensor([0]), epoch=3)
    assert margin.values()[0].item() == pytest.approx(0.9 * 0.95 / (1 + 2.0 ** -3), rel=1e-6)
    margin.update_epoch(probs, torch.tensor([0]), epoch=1)
    assert margin.values()[0].item() == pytest.approx(0.9 * 0.95 / 1.5, rel=1e-6)


def test_margin_starts_at_t0_and_restores_state() -> None:
    margin = AdaptiveMargin(num_classes=7)
    assert margin.values().tolist() == pytest.approx([0.8] * 7)
    other = AdaptiveMargin(num_classes=7)
    margin.update_epoch(torch.eye(7) * 0.99 + 0.001, torch.arange(7), epoch=10)
    other.load_state_dict(margin.state_dict())
    assert torch.equal(other.values(), margin.values())


@pytest.mark.parametrize("kwargs", [{"b": 0.0}, {"b": 1.5}, {"gamma": 1.0}, {"t0": -0.1}])
def test_margin_rejects_invalid_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AdaptiveMargin(num_classes=7, **kwargs)


def test_mask_uses_threshold_of_predicted_class() -> None:
    margin = AdaptiveMargin(num_classes=3)
    margin.load_state_dict({"values": [0.9, 0.5, 0.7]})
    probs = torch.tensor([
        [0.85, 0.10, 0.05],  # class 0, 0.85 < 0.9 → out
        [0.20, 0.55, 0.25],  # class 1, 0.55 ≥ 0.5 → in
        [0.10, 0.20, 0.70],  # class 2, exactly 0.7 → in (≥)
        [0.95, 0.05, 0.00],  # class 0, ≥ 0.9 → in
    ])
    assert margin.mask(probs).tolist() == [False, True, True, True]
    assert FixedThreshold(0.8, 3).mask(probs).tolist() == [True, False, False, True]


def test_fixed_threshold_validates() -> None:
    with pytest.raises(ValueError):
        FixedThreshold(1.2, 7)


# ---------------------------------------------------------------------------- FlexMatch


def confident(classes: list[int], conf: float = 0.99) -> torch.Tensor:
    """Probabilities whose argmax is ``classes[i]`` with max ``conf`` (class −1: unconfident)."""
    probs = torch.full((len(classes), 3), 0.0)
    for i, c in enumerate(classes):
        if c < 0:
            probs[i] = torch.tensor([0.5, 0.3, 0.2])
        else:
            probs[i] = (1 - conf) / 2
            probs[i, c] = conf
    return probs


def test_flexmatch_thresholds_after_a_known_history() -> None:
    m = lambda b: b / (2 - b)  # noqa: E731 — FlexMatch's convex mapping
    th = FlexMatchThreshold(0.95, num_classes=3, num_unlabeled=10)
    assert th.values().tolist() == [0, 0, 0]  # nothing learned yet: every prediction passes
    assert th.mask(confident([-1, 2])).all()
    th.observe(confident([0, 0, 0, 1, -1]), torch.tensor([0, 1, 2, 3, 4]))
    # σ = (3, 1, 0) with 6 unused images: warm-up normalises by max(3, 6) = 6
    assert th.values().tolist() == pytest.approx([0.95 * m(3 / 6), 0.95 * m(1 / 6), 0.0])
    th.observe(confident([2, 2, 2, 2, 2, 2, 1]), torch.tensor([4, 5, 6, 7, 8, 9, 0]))  # image 0 moves to class 1
    # σ = (2, 2, 6), no unused image left: normalised by 6
    assert th.values().tolist() == pytest.approx([0.95 * m(2 / 6), 0.95 * m(2 / 6), 0.95])
    th.observe(confident([-1]), torch.tensor([5]))  # an unconfident prediction leaves the record unchanged
    assert th.values().tolist() == pytest.approx([0.95 * m(2 / 6), 0.95 * m(2 / 6), 0.95])
    restored = FlexMatchThreshold(0.95, num_classes=3)
    restored.load_state_dict(copy.deepcopy(th.state_dict()))
    assert torch.equal(restored.values(), th.values()) and torch.equal(restored.selected, th.selected)

    no_warm = FlexMatchThreshold(0.95, num_classes=3, num_unlabeled=10, warmup=False)
    no_warm.observe(confident([0, 0, 0, 1, -1]), torch.tensor([0, 1, 2, 3, 4]))
    assert no_warm.values().tolist() == pytest.approx([0.95, 0.95 * m(1 / 3), 0.0])
