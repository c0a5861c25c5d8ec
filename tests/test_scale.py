"""fer_helpers.scale (chapter 11): the lessons run in this process; the measurements in fresh processes give a
'not installed' row for a missing backend, data parallelism that equals one device, and input pipelines that count
every face."""
import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from fer_helpers import data, machine, scale
from fer_helpers.course import REPO_ROOT


def _faces(n, seed=0):
    """n random 48x48 'faces' with labels cycling through the seven classes."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), np.arange(n) % data.NUM_CLASSES


@pytest.mark.slow
def test_imports_without_jax_and_torch():
    # as if they were not installed: importing them raises (Keras and SciPy then leave them alone)
    blocked = textwrap.dedent("""
        import importlib.abc, sys
        class NotInstalled(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("jax", "torch"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, NotInstalled())
        import fer_helpers.scale
    """)
    # under the TensorFlow backend (a JAX or PyTorch run of the suite must not make Keras itself need them)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert done.returncode == 0, done.stderr


def test_missing_backend_is_a_row_not_an_error():
    assert not machine.backend_installed("no_such_backend")
    x, y = _faces(8)
    table = scale.precision_benchmark(x, y, ("float32", "mixed_float16"), backend="no_such_backend")
    assert list(table.index) == ["float32", "mixed_float16"] and (table["status"] == "not installed").all()


@pytest.mark.slow
def test_training_speed_runs_in_this_process_and_checks_the_weights(tmp_path):
    x, y = _faces(32)
    keras.utils.set_random_seed(0)
    model = scale.benchmark_model(widths=(4, 8))
    model.save_weights(tmp_path / "w.weights.h5")
    proba = np.asarray(model.predict(x[:4, ..., None].astype("float32"), verbose=0))
    result = scale.training_speed(x, y, widths=(4, 8), batch_size=16, epochs=2, weights=tmp_path / "w.weights.h5",
                                  x_check=x[:4], proba_check=proba)
    assert result["status"] == "ok" and result["backend"] == keras.backend.backend()
    assert result["images"] == 32 and result["images_per_s"] > 0 and result["first_epoch_s"] > 0
    assert result["weights_max_diff"] < 1e-6                     # the same weights predict the same here
    proba_off = proba + 0.1                                       # and a check that disagrees is seen
    assert scale.training_speed(x, y, widths=(4, 8), batch_size=16, weights=tmp_path / "w.weights.h5",
                                x_check=x[:4], proba_check=proba_off)["weights_max_diff"] > 0.09


@pytest.mark.slow
def test_train_under_policies_keeps_the_output_in_float32_and_restores_the_policy():
    x, y = _faces(32)
    before = keras.mixed_precision.global_policy().name
    result = scale.train_under_policies(x, y, ("float32", "mixed_bfloat16"), widths=(4, 8), batch_size=16)
    assert keras.mixed_precision.global_policy().name == before
    runs = {run["policy"]: run for run in result["runs"]}
    assert runs["float32"]["status"] == "ok" and runs["float32"]["compute_dtype"] == "float32"
    assert runs["mixed_bfloat16"]["compute_dtype"] == "bfloat16"
    assert runs["mixed_bfloat16"]["variable_dtype"] == runs["mixed_bfloat16"]["output_dtype"] == "float32"


@pytest.mark.slow
def test_backend_benchmark_reports_each_backend():
    x, y = _faces(32)
    table = scale.backend_benchmark(x, y, backends=("tensorflow", "no_such_backend"), widths=(4, 8), batch_size=16,
                                    epochs=1, gpu=False, timeout=300)
    assert list(table.index) == ["tensorflow", "no_such_backend"]
    row = table.loc["tensorflow"]
    assert row["status"] == "ok", row["status"]
    assert row["version"].startswith("tensorflow ")
    assert 0 < row["cpu_images_per_s"] < 1e6 and row["first_epoch_s"] > 0
    assert row["weights_max_diff"] < 1e-5          # the weights saved here predict the same in the worker
    assert math.isfinite(row["first_step_loss"]) and math.isfinite(row["final_loss"])
    assert row["gpu_images_per_s"].startswith("not measured")
    assert table.loc["no_such_backend", "status"] == "not installed"


@pytest.mark.slow
def test_two_devices_train_exactly_like_one():
    x, y = _faces(64)
    result = scale.data_parallel_check("tensorflow", devices=2, steps=3, per_replica_batch=8, x=x, y=y,
                                       learning_rate=0.1, contrast=True, timeout=300)
    assert result["status"] == "ok", result
    assert result["global_batch"] == 16 and result["steps"] == 3 and len(result["devices"]) == 2
    assert result["max_weight_change"] > 1e-3                      # training moved the weights ...
    assert result["equal"] and result["max_weight_diff"] <= 1e-5   # ... in the same way on two devices
    assert result["max_loss_diff"] <= 1e-5
    # and the per-replica batch on one device is a different training: the check can tell them apart
    assert result["max_weight_diff_per_replica_batch_on_one_device"] > 100 * result["max_weight_diff"] + 1e-5


def test_data_parallel_on_a_missing_backend_says_not_installed():
    assert scale.data_parallel_check("no_such_backend")["status"] == "not installed"


@pytest.mark.slow
def test_data_parallel_on_an_installed_but_unsupported_backend_says_so():
    if not machine.backend_installed("torch"):
        pytest.skip("PyTorch is not installed (make test-backends installs it)")
    result = scale.data_parallel_check("torch", devices=2, steps=1, per_replica_batch=4, timeout=300)
    assert result["status"] == "not supported" and result["backend"] == "torch"
    assert "keras.distribution (JAX) or tf.distribute (TensorFlow)" in result["error"]


@pytest.mark.slow
def test_pipeline_benchmark_counts_every_face(tmp_path):
    import keras
    x, y = _faces(48)
    augmentation = keras.Sequential([keras.layers.RandomFlip("horizontal")])
    table = scale.pipeline_benchmark(x, y, batch_size=16, read_passes=1, epochs=1, augmentation=augmentation,
                                     widths=(4, 8))
    # four tf.data pipelines (folders twice, arrays, arrays + augmentation) and the original's, where tf.keras has it
    assert len(table) == 4 + scale.legacy_available()
    assert "arrays + augmentation mapped in tf.data" in table.index
    assert (table["images"] == 48).all()
    for column in ("read_images_per_s", "train_images_per_s"):
        assert np.isfinite(table[column]).all() and (table[column] > 0).all()
    # the class folders it writes follow the Kaggle layout, one PNG per face, and read back as they were
    folder = scale.write_image_folder(x, y, tmp_path / "train")
    assert sorted(p.name for p in folder.iterdir()) == list(data.CLASS_NAMES)
    back = data.load_split(tmp_path, "train", cache=False)
    assert len(back) == 48 and sorted(back.y.tolist()) == sorted(y.tolist())
    assert {img.tobytes() for img in back.x} == {img.tobytes() for img in x}


def test_cache_before_shuffle_reshuffles_every_epoch():
    x, y = _faces(40)
    dataset = scale.array_dataset(x, y, batch_size=16, seed=1)
    epochs = [np.concatenate([np.asarray(images)[:, :2, 0, 0] for images, _ in dataset]) for _ in range(2)]
    assert len(epochs[0]) == 40
    assert sorted(map(tuple, epochs[0])) == sorted(map(tuple, epochs[1]))   # the same faces ...
    assert not np.array_equal(epochs[0], epochs[1])                          # ... in a new order


def test_float32_output_under_mixed_precision():
    import keras
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = scale.with_float32_output(scale.benchmark_model(widths=(4, 8)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("s1_conv1").compute_dtype == "float16"
    assert model.get_layer("s1_conv1").variable_dtype == "float32"
    assert model.layers[-1].compute_dtype == "float32"
    assert model.output_shape == (None, data.NUM_CLASSES)


def test_repeat_to_fills_a_fixed_count():
    x, y = _faces(5)
    x10, y10 = scale.repeat_to(x, y, 12)
    assert len(x10) == len(y10) == 12
    assert (x10[5] == x[0]).all() and list(y10[:7]) == [0, 1, 2, 3, 4, 0, 1]
