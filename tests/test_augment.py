import numpy as np

from adacm.data.augment import randaugment, strong_batch, to_tensor, weak_batch


def test_augmentations_reproducible_from_seed(ci_data) -> None:
    x = ci_data.train.x[:16]
    for fn in (weak_batch, strong_batch):
        a = fn(x, np.random.default_rng(7))
        b = fn(x, np.random.default_rng(7))
        c = fn(x, np.random.default_rng(8))
        assert a.shape == x.shape and a.dtype == np.uint8
        assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_strong_changes_more_than_weak(ci_data) -> None:
    x = ci_data.train.x[:64]
    weak = np.abs(weak_batch(x, np.random.default_rng(0)).astype(int) - x).mean()
    strong = np.abs(strong_batch(x, np.random.default_rng(0)).astype(int) - x).mean()
    assert strong > weak


def test_randaugment_keeps_rgb_images() -> None:
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert randaugment(img, np.random.default_rng(0)).shape == (32, 32, 3)
    assert to_tensor(img[None]).shape == (1, 3, 32, 32)
