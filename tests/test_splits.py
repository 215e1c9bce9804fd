import numpy as np
import pytest

from adacm.data.splits import labeled_indices, split_hash
from adacm.errors import UserError


def test_split_is_deterministic_and_class_balanced(ci_data) -> None:
    y = ci_data.train.y
    a = labeled_indices(y, 100, seed=3, dataset="fer2013_ci", num_classes=7)
    b = labeled_indices(y, 100, seed=3, dataset="fer2013_ci", num_classes=7)
    assert np.array_equal(a, b) and len(a) == 100 and len(np.unique(a)) == 100
    counts = np.bincount(y[a], minlength=7)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 100   # 14 each + 2 remainders
    assert not np.array_equal(a, labeled_indices(y, 100, seed=4, dataset="fer2013_ci", num_classes=7))


def test_split_is_identical_across_machines(ci_data) -> None:
    """Pinned fingerprint: the split must not depend on the platform or numpy version."""
    idx = labeled_indices(ci_data.train.y, 70, seed=0, dataset="fer2013_ci", num_classes=7)
    assert split_hash(idx) == PINNED_HASH


PINNED_HASH = "b8fb42cce817f202"  # fer2013_ci, 70 labels, seed 0


def test_split_errors_are_clear(ci_data) -> None:
    with pytest.raises(UserError, match="has 448 labeled training images in all but --labels 455 asks for more"):
        labeled_indices(ci_data.train.y, 7 * 65, seed=0, dataset="fer2013_ci", num_classes=7)
    with pytest.raises(UserError, match="at least 7"):
        labeled_indices(ci_data.train.y, 5, seed=0, dataset="fer2013_ci", num_classes=7)


def test_a_short_class_gives_all_it_has_and_the_rest_is_shared_evenly() -> None:
    """Water-filling: 4,000 FER2013 labels need more disgust images (436) than exist."""
    y = np.repeat(np.arange(4), [3, 10, 10, 50])
    idx = labeled_indices(y, 28, seed=0, dataset="toy", num_classes=4)
    counts = np.bincount(y[idx], minlength=4)
    assert counts.tolist()[0] == 3 and sorted(counts[1:].tolist()) == [8, 8, 9] and counts.sum() == 28
    y = np.repeat(np.arange(4), [3, 5, 10, 50])  # a second class runs short once the first's share moves on
    counts = np.bincount(y[labeled_indices(y, 28, seed=0, dataset="toy", num_classes=4)], minlength=4)
    assert counts.tolist()[:2] == [3, 5] and sorted(counts[2:].tolist()) == [10, 10]
    assert len(labeled_indices(y, 68, seed=0, dataset="toy", num_classes=4)) == 68  # every image
