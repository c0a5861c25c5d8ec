import torch

from emolens.augment import augment, mix


def test_augment_shapes_range_and_determinism():
    x = torch.rand(16, 1, 48, 48)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_identity_when_everything_is_off():
    x = torch.rand(4, 1, 48, 48)
    y = augment(x, torch.Generator().manual_seed(0), shift=0, rotate=0, scale=0, flip=False, brightness=0,
                contrast=0, erase_p=0)
    assert torch.allclose(x, y, atol=1e-5)


def test_flip_only_mirrors():
    x = torch.rand(64, 1, 48, 48)
    y = augment(x, torch.Generator().manual_seed(0), shift=0, rotate=0, scale=0, flip=True, brightness=0,
                contrast=0, erase_p=0)
    mirrored = [torch.allclose(y[i], x[i].flip(-1), atol=1e-5) for i in range(64)]
    same = [torch.allclose(y[i], x[i], atol=1e-5) for i in range(64)]
    assert all(m or s for m, s in zip(mirrored, same)) and 10 < sum(mirrored) < 54


def test_erasing_changes_a_rectangle():
    x = torch.zeros(32, 1, 48, 48)
    y = augment(x, torch.Generator().manual_seed(0), shift=0, rotate=0, scale=0, flip=False, brightness=0,
                contrast=0, erase_p=1.0)
    changed = (y != 0).float().mean(dim=(1, 2, 3))
    assert (changed > 0.01).all() and (changed < 0.25).all()


def test_mixup_and_cutmix_labels():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 1, 48, 48), torch.arange(8)
    xm, ya, yb, lam = mix(x, y, g, mixup=0.4)
    assert 0 <= lam <= 1 and torch.equal(ya, y) and sorted(yb.tolist()) == list(range(8))
    xc, ya, yb, lam = mix(x, y, g, cutmix=1.0)
    assert 0 <= lam <= 1
    assert mix(x, y, g) == (x, y, y, 1.0)
