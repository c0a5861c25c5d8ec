import pytest
import torch

from emolens.errors import EmolensError
from emolens.models import (REGISTRY, SeedNet, atomic_save_safetensors, count_params, create_model, load_model,
                            grow_into, load_weights_into, mflops, prune_into)


def test_seed_is_the_original_keras_network():
    m = create_model("seed")
    convs = [l for l in m.modules() if isinstance(l, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [128, 256, 512, 512]
    assert all(c.kernel_size == (3, 3) and c.padding == (0, 0) for c in convs)
    drops = [l.p for l in m.modules() if isinstance(l, torch.nn.Dropout)]
    assert drops == [0.4, 0.4, 0.4, 0.4, 0.4, 0.3]
    lin = [l for l in m.modules() if isinstance(l, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in lin] == [(512, 512), (512, 256), (256, 7)]
    # Keras model.summary() of the original script: 4,232,199 trainable parameters
    assert count_params(m) == 4_232_199


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_architecture_runs(name):
    m = create_model(name).eval()
    assert m(torch.zeros(3, 1, 48, 48)).shape == (3, 7)
    assert mflops(m) > 1


def test_unknown_architecture():
    with pytest.raises(EmolensError, match="unknown architecture 'resnet9000'"):
        create_model("resnet9000")


def test_weights_roundtrip_and_wrong_architecture(tmp_path):
    m = create_model("emonet-t").eval()
    p = tmp_path / "w.safetensors"
    atomic_save_safetensors({f"model.{k}": v for k, v in m.state_dict().items()}, p,
                            {"emolens": {"arch": "emonet-t", "classes": ["a"] * 7}})
    m2, info = load_model(p)
    x = torch.randn(2, 1, 48, 48)
    assert torch.equal(m(x), m2(x)) and info["arch"] == "emonet-t"
    with pytest.raises(EmolensError, match="checkpoint is for architecture 'emonet-t', not 'seed'"):
        load_weights_into(SeedNet(), p, "seed")
    # metadata lying about the architecture: weights don't fit
    atomic_save_safetensors({f"model.{k}": v for k, v in m.state_dict().items()}, p, {"emolens": {"arch": "seed"}})
    with pytest.raises(EmolensError, match="do not fit architecture 'seed'"):
        load_model(p)
    p.write_bytes(b"garbage")
    with pytest.raises(EmolensError, match="not a readable safetensors"):
        load_model(p)


def _dead_channels_wide_model(seed=0):
    """emonet-t whose residual blocks have exactly half their inner channels dead (BN scale 0, bias -1: ReLU
    outputs 0), so pruning those away must leave the network's function unchanged."""
    torch.manual_seed(seed)
    wide = create_model("emonet-t").eval()
    dead = {}
    with torch.no_grad():
        for n, m in wide.named_modules():
            if type(m).__name__ == "ResBlock":
                bn, c = m.body[1], m.body[1].num_features
                idx = torch.randperm(c)[: c // 2]
                bn.weight.uniform_(0.5, 1.5)
                bn.weight[idx], bn.bias[idx] = 0.0, -1.0
                bn.running_mean.uniform_(-0.1, 0.1), bn.running_var.uniform_(0.5, 2)
                dead[n] = sorted(idx.tolist())
    return wide, dead


def test_slim_is_emonet_t_with_half_width_blocks():
    t, s = create_model("emonet-t"), create_model("emonet-t-slim")
    assert mflops(s) < 0.7 * mflops(t)
    inner = [m.body[0].out_channels for m in s.modules() if type(m).__name__ == "ResBlock"]
    assert inner == [16, 32, 64]


def test_prune_keeps_the_channels_that_matter_and_the_function():
    wide, dead = _dead_channels_wide_model()
    slim = create_model("emonet-t-slim").eval()
    kept = prune_into(wide.state_dict(), slim)
    for n, idx in kept.items():
        assert not set(idx) & set(dead[n]), f"{n}: pruned a live channel"
    x = torch.randn(4, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(wide(x), slim(x), atol=1e-5)


def test_prune_from_a_file_and_refusals(tmp_path):
    wide, _ = _dead_channels_wide_model(1)
    p = tmp_path / "wide.safetensors"
    atomic_save_safetensors({f"model.{k}": v for k, v in wide.state_dict().items()}, p, {"emolens": {"arch": "emonet-t"}})
    slim = create_model("emonet-t-slim").eval()
    with pytest.raises(EmolensError, match="checkpoint is for architecture 'emonet-t', not 'emonet-t-slim'"):
        load_weights_into(slim, p, "emonet-t-slim")  # pruning only when asked for
    load_weights_into(slim, p, "emonet-t-slim", adapt=True)
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(wide(x), slim(x), atol=1e-5)
    # a different family cannot be pruned in
    with pytest.raises(EmolensError, match="cannot prune 'emonet-t' into 'seed'"):
        load_weights_into(create_model("seed"), p, "seed", adapt=True)


def _trained_looking(name, seed=0):
    """A model with non-trivial BN statistics and biases, so that a function-preserving copy is a real test."""
    torch.manual_seed(seed)
    m = create_model(name).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5), mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.1, 0.1), mod.running_var.uniform_(0.5, 2)
    return m


def test_grow_keeps_the_function_and_lets_the_new_channels_learn():
    small, big = _trained_looking("emonet-t"), create_model("emonet-s").eval()
    grow_into(small.state_dict(), big)
    x = torch.randn(4, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(small(x), big(x), atol=1e-5)
    # new channels are random, not copies (so they do not stay identical), and nothing blocks their gradients
    w = big.features[0][0].weight
    assert w.shape[0] == 24 and not torch.allclose(w[16:], w[:8])
    big.train()
    big(x).logsumexp(1).sum().backward()
    head = big.head[-1].weight
    assert torch.equal(head.detach()[:, 128:], torch.zeros(7, 64)) and head.grad[:, 128:].abs().sum() > 0


def test_grow_from_a_file_and_refusals(tmp_path):
    small = _trained_looking("emonet-t", 1)
    p = tmp_path / "small.safetensors"
    atomic_save_safetensors({f"model.{k}": v for k, v in small.state_dict().items()}, p, {"emolens": {"arch": "emonet-t"}})
    big = create_model("emonet-s").eval()
    with pytest.raises(EmolensError, match="checkpoint is for architecture 'emonet-t', not 'emonet-s'"):
        load_weights_into(big, p, "emonet-s")
    assert load_weights_into(big, p, "emonet-s", adapt=True)["adapted"] == "grown"
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(small(x), big(x), atol=1e-5)
    # a different layout cannot be grown into (emonet-l has a block emonet-t lacks)
    with pytest.raises(EmolensError, match="cannot grow 'emonet-t' into 'emonet-l'.*missing in the source"):
        load_weights_into(create_model("emonet-l"), p, "emonet-l", adapt=True)
