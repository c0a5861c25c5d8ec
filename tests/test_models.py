import pytest
import torch

from emolens.errors import EmolensError
from emolens.models import (REGISTRY, SeedNet, atomic_save_safetensors, count_params, create_model, load_model,
                            load_weights_into, mflops)


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
