"""Training at scale, measured on a small machine: Keras backends, data parallelism, input pipelines and mixed
precision (chapter 11).

Why subprocesses. A Python process picks its Keras backend once, at the first ``import keras``; TensorFlow fixes
its list of devices when it first runs an operation; JAX reads ``XLA_FLAGS`` once, when it starts. So every
measurement that needs another backend, another number of devices or a clean global dtype policy runs in a fresh
Python process, which prints its result as one line of JSON (the last line of its stdout)::

    python -m fer_helpers.scale backend   --backend jax --batch-size 32 --epochs 1
    python -m fer_helpers.scale parallel  --backend tensorflow --devices 2 --steps 4
    python -m fer_helpers.scale precision --policies float32,mixed_bfloat16

Each works on the committed sample's training faces unless ``--data FILE.npz`` (arrays ``x``, ``y``) is given.

From Python, :func:`run_worker` starts such a process (environment set, JSON parsed) and returns the dict;
:func:`backend_benchmark`, :func:`data_parallel_check` and :func:`precision_benchmark` wrap it. A backend whose
package is missing gives a row ``{"status": "not installed"}``, not an error. :func:`pipeline_benchmark` runs in the
calling process (``tf.data`` needs TensorFlow installed, whichever Keras backend is active).

Nothing here imports jax or torch at module level: ``fer_helpers`` imports with TensorFlow alone.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .course import REPO_ROOT, load_average
from .data import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES, as_model_input

#: The three Keras 3 backends, and the package each one needs.
BACKENDS = ("tensorflow", "jax", "torch")
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
#: The dtype policies compared by :func:`precision_benchmark`.
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
#: A narrow ``build_vgg_bn`` (a quarter of its channels): big enough to time, small enough for a 2-core CPU.
SMALL_WIDTHS = (8, 16, 32, 64)


# --- running a measurement in a fresh process -------------------------------------------------------------------

def backend_installed(backend: str) -> bool:
    """Whether the package behind a Keras backend can be imported here (found, not imported: that is slow)."""
    package = BACKEND_PACKAGES.get(backend, backend)
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def gpu_count() -> int:
    """NVIDIA GPUs on this machine, asked of ``nvidia-smi`` (0 without it): no deep-learning framework is imported."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def _worker_env(backend: str, devices: int, device: str) -> dict:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    if device == "cpu":  # hide GPUs from all three frameworks: the figure is the CPU's
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"
    if backend == "jax" and devices > 1:  # JAX then shows the CPU as this many devices
        flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform")]
        env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices}"])
    return env


def run_worker(command: str, backend: str = "tensorflow", *, devices: int = 1, device: str = "cpu",
               timeout: float = 600, **options) -> dict:
    """Run ``python -m fer_helpers.scale COMMAND --backend BACKEND --key value ...`` in a fresh process.

    ``device='cpu'`` hides every GPU from it (``'any'`` lets the framework choose); ``devices=N`` with JAX splits
    the CPU into N devices. Returns the worker's JSON as a dict, with ``wall_s`` (imports included) added; a backend
    that is not installed gives ``{"backend": ..., "status": "not installed"}`` without starting anything, and a
    worker that fails gives ``status`` 'failed' (or 'timed out') and the last line of its error.
    """
    if not backend_installed(backend):
        return {"backend": backend, "status": "not installed"}
    argv = [sys.executable, "-m", "fer_helpers.scale", command, "--backend", backend, "--devices", str(devices)]
    for key, value in options.items():
        if value is None or value is False:
            continue
        argv.append("--" + key.replace("_", "-"))
        if value is not True:
            argv.append(",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, env=_worker_env(backend, devices, device), cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"backend": backend, "status": "timed out", "error": f"no result within {timeout:g} s"}
    wall = round(time.perf_counter() - started, 1)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        errors = [line for line in done.stderr.splitlines() if line.strip()]
        return {"backend": backend, "status": "failed", "wall_s": wall,
                "error": errors[-1] if errors else f"exit status {done.returncode}, no JSON"}
    return {**json.loads(lines[-1]), "wall_s": wall}


def _faces_file(x: np.ndarray, y: np.ndarray, folder: Path, name: str = "faces.npz", **extra) -> Path:
    path = Path(folder) / name
    np.savez(path, x=np.asarray(x, dtype=np.uint8), y=np.asarray(y, dtype=np.int64), **extra)
    return path


def _load_faces(path: str | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """In a worker: (x, y) and any other arrays of the .npz at ``path``; without one, the committed sample."""
    if path is None:
        from .course import SAMPLE_DIR
        from .data import load_split
        split = load_split(SAMPLE_DIR, "train")
        return split.x, split.y, {}
    with np.load(path) as faces:
        extra = {key: faces[key] for key in faces.files if key not in ("x", "y")}
        return faces["x"], faces["y"], extra


def repeat_to(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` faces of (x, y) repeated as often as needed: a timing needs a fixed number of images,
    not new ones (the committed sample has only 140 training faces)."""
    index = np.arange(n) % len(y)
    return np.asarray(x)[index], np.asarray(y)[index]


# --- models -----------------------------------------------------------------------------------------------------

def benchmark_model(widths=SMALL_WIDTHS, dropout: float = 0.0):
    """``models.build_vgg_bn`` with ``widths``; dropout 0 by default, so the backends draw no random numbers that
    differ and train the very same function."""
    from .models import build_vgg_bn
    return build_vgg_bn(widths=tuple(widths), dropout=dropout)


def parallel_model():
    """A tiny CNN for the data-parallel check: no dropout (no randomness) and no BatchNormalization (whose
    batch statistics would be per replica under ``tf.distribute``), so one device and two compute the same."""
    import keras
    from keras import layers
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.Conv2D(8, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="parallel_cnn")


def with_float32_output(model):
    """The same network with its last layer rebuilt with ``dtype='float32'``.

    Under a mixed policy every layer computes in float16 or bfloat16; the softmax and the loss should not: float16
    rounds probabilities near 0 and 1 and overflows above 65,504, and bfloat16 keeps only 3 significant digits.
    Keras' advice is a float32 output layer; the models of ``fer_helpers.models`` take the global policy for every
    layer, so this rebuilds their head."""
    import keras
    last = model.layers[-1]
    config = last.get_config()
    config["dtype"] = "float32"
    head = type(last).from_config(config)
    return keras.Model(model.inputs, head(model.layers[-2].output), name=model.name)


# --- 1. backends ------------------------------------------------------------------------------------------------

def _rate(images: int, seconds: list[float]) -> float:
    """Images/s of the median epoch: one epoch slowed down by another job on a shared machine does not count."""
    return round(images / float(np.median(seconds)), 1)


def _timed_fit(model, x, y, batch_size: int, epochs: int) -> dict:
    """One untimed epoch (tracing, compiling, memory), then ``epochs`` timed ones: images/s of the median one.

    Also the loss of the first batch (computed with the initial weights), of the second (after one update), and
    the mean loss of the last epoch: where the backends' different rounding starts, and where it has got to."""
    import keras
    running = []  # Keras logs the running mean of the epoch's batch losses
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: running.append(float(logs["loss"])))
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    first = time.perf_counter() - started
    from .train import EpochClock  # here, not at the top: train imports Keras, and the worker picks its backend first
    clock = EpochClock()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0, callbacks=[clock])
    return {"first_epoch_s": round(first, 2), "timed_s": round(sum(clock.seconds), 2),
            "images_per_s": _rate(len(x), clock.seconds), "first_step_loss": running[0],
            "second_step_loss": 2 * running[1] - running[0] if len(running) > 1 else None,
            "final_loss": float(history.history["loss"][-1])}


def backend_name() -> str:
    """The Keras backend of this process (imports Keras, which fixes it)."""
    import keras
    return keras.backend.backend()


def _run_device(backend: str) -> str:
    """Where the worker's arrays live: 'cpu', or 'gpu (name)'."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf
            gpus = tf.config.list_logical_devices("GPU")
            return f"gpu ({gpus[0].name})" if gpus else "cpu"
        if backend == "jax":
            import jax
            device = jax.devices()[0]
            return "cpu" if device.platform == "cpu" else f"gpu ({device.device_kind})"
        if backend == "torch":
            import torch
            return f"gpu ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    except Exception:
        pass
    return "cpu"


def _backend_version(backend: str) -> str:
    import importlib
    module = importlib.import_module(BACKEND_PACKAGES.get(backend, backend))
    return f"{backend} {module.__version__}"


def _worker_backend(args) -> dict:
    """In the worker: load the faces and the initial weights, check the predictions against the parent's, train."""
    import keras
    keras.utils.set_random_seed(args.seed)
    x, y, extra = _load_faces(args.data)
    x, y = as_model_input(x), keras.utils.to_categorical(y, NUM_CLASSES)
    model = benchmark_model(args.widths, args.dropout)
    weights_max_diff = None
    if args.weights:
        model.load_weights(args.weights)
        if "x_check" in extra:  # the parent's predictions with the same weights, under its backend
            proba = np.asarray(model.predict(as_model_input(extra["x_check"]), verbose=0))
            weights_max_diff = float(np.abs(proba - extra["proba_check"]).max())
    model.compile(optimizer=keras.optimizers.SGD(args.learning_rate, momentum=0.9), loss="categorical_crossentropy")
    timing = _timed_fit(model, x, y, args.batch_size, args.epochs)
    return {"backend": backend_name(), "status": "ok", "version": _backend_version(backend_name()),
            "device": _run_device(backend_name()), "images": len(x), "batch_size": args.batch_size,
            "epochs": args.epochs, **timing, "weights_max_diff": weights_max_diff}


def backend_benchmark(x: np.ndarray, y: np.ndarray, backends=BACKENDS, *, widths=SMALL_WIDTHS, dropout: float = 0.0,
                      batch_size: int = 32, epochs: int = 1, learning_rate: float = 0.01, gpu: bool | None = None,
                      seed: int = 42, timeout: float = 600):
    """The same short training under each Keras backend, each in its own process: a DataFrame, one row a backend.

    Same model (:func:`benchmark_model`), same initial weights (built here, saved as ``.weights.h5`` and loaded by
    every worker, which also checks that its predictions equal ours: column ``weights_max_diff``), same faces in
    the same order (``shuffle=False``), SGD with momentum; one untimed epoch, then the median of ``epochs`` timed
    ones. Columns: ``cpu_images_per_s`` (GPUs hidden) and
    ``gpu_images_per_s``, measured only where ``gpu`` is true (default: when ``nvidia-smi`` lists a GPU), else the
    text 'not measured'. Rows of backends that are not installed say so.
    """
    import keras
    import pandas as pd
    gpus = gpu_count()
    gpu = gpus > 0 if gpu is None else gpu
    not_measured = "not measured" if gpus else "not measured (no GPU here)"
    keras.utils.set_random_seed(seed)
    model = benchmark_model(widths, dropout)
    x_check = np.asarray(x[:16])
    rows = []
    with tempfile.TemporaryDirectory(prefix="fer_scale_") as tmp:
        weights = Path(tmp) / "initial.weights.h5"
        model.save_weights(weights)
        proba = np.asarray(model.predict(as_model_input(x_check), verbose=0))
        faces = _faces_file(x, y, Path(tmp), x_check=x_check, proba_check=proba)
        options = dict(data=faces, weights=weights, widths=widths, dropout=dropout, batch_size=batch_size,
                       epochs=epochs, learning_rate=learning_rate, seed=seed, timeout=timeout)
        for backend in backends:
            cpu = run_worker("backend", backend, device="cpu", **options)
            row = {"backend": backend, "status": cpu["status"], "version": cpu.get("version", ""),
                   "cpu_images_per_s": cpu.get("images_per_s", np.nan),
                   "gpu_images_per_s": not_measured,
                   "first_epoch_s": cpu.get("first_epoch_s", np.nan),
                   "first_step_loss": cpu.get("first_step_loss", np.nan),
                   "second_step_loss": cpu.get("second_step_loss", np.nan), "final_loss": cpu.get("final_loss", np.nan),
                   "weights_max_diff": cpu.get("weights_max_diff", np.nan), "process_s": cpu.get("wall_s", np.nan),
                   "load_1min": cpu.get("load_average_1min", np.nan)}
            if cpu["status"] not in ("ok", "not installed"):
                row["status"] = f"{cpu['status']}: {cpu.get('error', '')}"
            if gpu and cpu["status"] == "ok":
                on_gpu = run_worker("backend", backend, device="any", **options)
                if on_gpu["status"] != "ok":
                    row["gpu_images_per_s"] = f"{on_gpu['status']}: {on_gpu.get('error', '')}"
                elif on_gpu["device"] == "cpu":
                    row["gpu_images_per_s"] = f"not measured ({backend} sees no GPU)"
                else:
                    row["gpu_images_per_s"] = on_gpu["images_per_s"]
            rows.append(row)
    return pd.DataFrame(rows).set_index("backend")


# --- 2. data parallelism ----------------------------------------------------------------------------------------

def _fit_steps(model, x, y, batch_size: int, learning_rate: float) -> tuple[list[float], list[np.ndarray]]:
    """Plain SGD over (x, y) in order, one epoch: the loss Keras logs after each step, and the final weights."""
    import keras
    losses = []
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="categorical_crossentropy")
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    return losses, [np.asarray(w) for w in model.get_weights()]


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)).max() for u, v in zip(a, b)))


def _worker_parallel(args) -> dict:
    """In the worker: train the same model from the same weights on the same batches, on one device and on
    ``args.devices`` (JAX: ``keras.distribution.DataParallel``; TensorFlow: ``tf.distribute.MirroredStrategy``)."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in ("tensorflow", "jax"):
        return {"backend": backend, "status": "not supported",
                "error": "data parallelism here uses keras.distribution (JAX) or tf.distribute (TensorFlow)"}
    if backend == "tensorflow":  # split the CPU into logical devices before TensorFlow initialises
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.devices)
    import keras
    global_batch = args.per_replica_batch * args.devices
    x, y, _ = _load_faces(args.data)
    x, y = repeat_to(x, y, args.steps * global_batch)
    x, y = as_model_input(x), keras.utils.to_categorical(y, NUM_CLASSES)

    keras.utils.set_random_seed(args.seed)
    single = parallel_model()
    initial = single.get_weights()
    one_losses, one_weights = _fit_steps(single, x, y, global_batch, args.learning_rate)
    small_weights = None
    if args.contrast:  # the tempting mistake: one device with the *per-replica* batch takes more, noisier steps
        small = parallel_model()
        small.set_weights(initial)
        _, small_weights = _fit_steps(small, x, y, args.per_replica_batch, args.learning_rate)

    if backend == "jax":
        devices = keras.distribution.list_devices("cpu")[: args.devices]
        distribution = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(distribution)
        try:
            replicated = parallel_model()  # variables made under the distribution: a copy on every device
            replicated.set_weights(initial)
            many_losses, many_weights = _fit_steps(replicated, x, y, global_batch, args.learning_rate)
            layout = distribution.get_data_layout((global_batch, IMAGE_SIZE, IMAGE_SIZE, 1))
            how = f"keras.distribution.DataParallel, batch axis split over {layout.device_mesh.shape}"
        finally:
            keras.distribution.set_distribution(None)
    else:
        import tensorflow as tf
        devices = [d.name for d in tf.config.list_logical_devices("CPU")][: args.devices]
        strategy = tf.distribute.MirroredStrategy(devices)
        with strategy.scope():
            replicated = parallel_model()
            replicated.set_weights(initial)
            many_losses, many_weights = _fit_steps(replicated, x, y, global_batch, args.learning_rate)
        how = f"tf.distribute.MirroredStrategy, {strategy.num_replicas_in_sync} replicas in sync"
    return {"backend": backend, "status": "ok", "devices": [str(d) for d in devices], "how": how,
            "replicas": args.devices, "per_replica_batch": args.per_replica_batch, "global_batch": global_batch,
            "steps": len(one_losses), "learning_rate": args.learning_rate,
            "losses_one_device": one_losses, "losses_replicated": many_losses,
            "max_weight_diff": _max_diff(one_weights, many_weights),
            "max_loss_diff": float(np.abs(np.subtract(one_losses, many_losses)).max()),
            "max_weight_change": _max_diff(one_weights, initial),
            "max_weight_diff_per_replica_batch_on_one_device":
                None if small_weights is None else _max_diff(small_weights, many_weights)}


def data_parallel_check(backend: str = "jax", devices: int = 2, *, steps: int = 4, per_replica_batch: int = 16,
                        learning_rate: float = 0.05, x: np.ndarray | None = None, y: np.ndarray | None = None,
                        contrast: bool = False, seed: int = 42, tolerance: float = 1e-5,
                        timeout: float = 600) -> dict:
    """Train :func:`parallel_model` for ``steps`` steps of plain SGD on one device and on ``devices`` CPU devices
    (global batch = ``per_replica_batch`` x ``devices``, same initial weights, same batches), in a fresh process.

    Returns the worker's dict with ``equal`` added: the largest weight difference is within ``tolerance`` (float32
    sums in another order differ in the last bits, about 1e-7 relative, so 1e-5 is generous for a few steps).
    Faces (x, y) are repeated to fill the steps; without them, the committed sample's training faces. ``contrast``
    also trains one device with the *per-replica* batch (more, smaller steps), which does not give the same weights:
    ``max_weight_diff_per_replica_batch_on_one_device``.
    """
    with tempfile.TemporaryDirectory(prefix="fer_scale_") as tmp:
        faces = _faces_file(x, y, Path(tmp)) if x is not None else None
        result = run_worker("parallel", backend, devices=devices, device="cpu", data=faces, steps=steps,
                            per_replica_batch=per_replica_batch, learning_rate=learning_rate, contrast=contrast,
                            seed=seed, timeout=timeout)
    if result.get("status") == "ok":
        result["tolerance"] = tolerance
        result["equal"] = result["max_weight_diff"] <= tolerance
    return result


# --- 3. input pipelines -----------------------------------------------------------------------------------------

def write_image_folder(x: np.ndarray, y: np.ndarray, folder: str | Path) -> Path:
    """Write faces as PNG files in class folders, ``folder/<class>/<i>.png``: the layout of the Kaggle copy of
    FER2013 that the original project read with ``flow_from_directory``."""
    import cv2
    folder = Path(folder)
    for name in CLASS_NAMES:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(np.asarray(x, dtype=np.uint8), y)):
        cv2.imwrite(str(folder / CLASS_NAMES[int(label)] / f"{i:06d}.png"), image)
    return folder


def folder_dataset(folder: str | Path, batch_size: int = 32, seed: int = 42, cache: bool = False):
    """A ``tf.data`` dataset of (pixels 0..255, one-hot) batches read from class folders.

    ``cache=False``: ``keras.utils.image_dataset_from_directory`` as it comes, reading and decoding every file in
    every epoch (what the original project's ``flow_from_directory`` did). ``cache=True``: decoded once, kept in
    memory by ``.cache()``, then shuffled, batched and prefetched in every epoch."""
    import keras
    import tensorflow as tf
    options = dict(labels="inferred", label_mode="categorical", class_names=list(CLASS_NAMES),
                   color_mode="grayscale", image_size=(IMAGE_SIZE, IMAGE_SIZE), seed=seed, verbose=False)
    if not cache:
        return keras.utils.image_dataset_from_directory(folder, batch_size=batch_size, shuffle=True, **options)
    files = keras.utils.image_dataset_from_directory(folder, batch_size=None, shuffle=False, **options)
    count = int(files.cardinality())
    return files.cache().shuffle(count, seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def array_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 32, seed: int = 42, augmentation=None):
    """A ``tf.data`` dataset from arrays in memory: ``cache -> shuffle -> batch -> [map augmentation] -> prefetch``.

    ``augmentation`` (a ``keras.Sequential`` of preprocessing layers, e.g. ``augment.augmentation_layers()``) is
    mapped over whole batches, on the CPU, in parallel (``num_parallel_calls=AUTOTUNE``), wrapped in
    ``keras.layers.Pipeline`` so that it works in ``tf.data`` under every backend."""
    import keras
    import tensorflow as tf
    dataset = tf.data.Dataset.from_tensor_slices((as_model_input(x), keras.utils.to_categorical(y, NUM_CLASSES)))
    dataset = dataset.cache().shuffle(len(y), seed=seed).batch(batch_size)
    if augmentation is not None:
        pipeline = keras.layers.Pipeline(list(getattr(augmentation, "layers", [augmentation])))
        dataset = dataset.map(lambda images, labels: (pipeline(images, training=True), labels),
                              num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def legacy_available() -> bool:
    """Whether the original ``ImageDataGenerator`` can still be reached here (through ``tf.keras`` only)."""
    try:
        import tensorflow as tf
        return hasattr(tf.keras.preprocessing.image, "ImageDataGenerator")
    except (ImportError, AttributeError):
        return False


def legacy_generator(folder: str | Path, batch_size: int = 32, seed: int = 42):
    """The original project's reader, ``ImageDataGenerator().flow_from_directory(...)``, or None where it is gone.

    Keras 3 removed ``ImageDataGenerator`` from its own API (``keras.preprocessing.image`` no longer has it); a
    deprecated copy survives only under ``tf.keras`` when TensorFlow is installed. No rescaling: our models
    rescale themselves."""
    if not legacy_available():
        return None
    import contextlib
    import io

    import tensorflow as tf
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Found N images belonging to 7 classes."
        return tf.keras.preprocessing.image.ImageDataGenerator().flow_from_directory(
            str(folder), target_size=(IMAGE_SIZE, IMAGE_SIZE), color_mode="grayscale", classes=list(CLASS_NAMES),
            class_mode="categorical", batch_size=batch_size, shuffle=True, seed=seed)


def _iterate(dataset) -> int:
    """One pass over a dataset (or a legacy generator); the number of images read."""
    if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):  # keras PyDataset: ImageDataGenerator
        return sum(len(dataset[i][0]) for i in range(len(dataset)))
    return sum(int(images.shape[0]) for images, _ in dataset)


def pipeline_benchmark(x: np.ndarray, y: np.ndarray, folder: str | Path | None = None, *, batch_size: int = 32,
                       read_passes: int = 3, epochs: int = 1, augmentation=None, widths=SMALL_WIDTHS,
                       train: bool = True, legacy: bool = True, seed: int = 42):
    """Images/s of the ways of feeding the same faces, read alone and while training: a DataFrame, one row each.

    The pipelines: the class folders decoded every epoch, the same decoded once and cached, arrays in memory
    through ``tf.data`` (cache, shuffle, batch, prefetch), the same with ``augmentation`` mapped in the pipeline,
    and, where ``tf.keras`` still has it (``legacy``), the original ``ImageDataGenerator.flow_from_directory``.
    ``folder`` holds the faces as PNGs (written from x, y into a temporary folder when None).

    Each is timed after one untimed pass (file listing, graph tracing, the cache filling, compiling):
    ``first_pass_s`` is that pass, ``read_images_per_s`` the median of the next ``read_passes`` passes, and, with
    ``train``, ``train_images_per_s`` the median of ``epochs`` epochs of one :func:`benchmark_model` (compiled once,
    trained on every pipeline in turn: the speed does not depend on the weights) fed by it, after one untimed
    epoch. Runs in this process, under its Keras backend.
    """
    import keras
    import pandas as pd
    with tempfile.TemporaryDirectory(prefix="fer_pipeline_") as tmp:
        if folder is None:
            folder = write_image_folder(x, y, Path(tmp) / "faces")
        makers = {
            "folders, decoded every epoch (image_dataset_from_directory)":
                lambda: folder_dataset(folder, batch_size, seed, cache=False),
            "folders, decoded once (.cache())": lambda: folder_dataset(folder, batch_size, seed, cache=True),
            "arrays in memory (tf.data: cache, shuffle, batch, prefetch)":
                lambda: array_dataset(x, y, batch_size, seed),
            "arrays + augmentation mapped in tf.data":
                lambda: array_dataset(x, y, batch_size, seed, augmentation=augmentation),
        }
        if augmentation is None:
            del makers["arrays + augmentation mapped in tf.data"]
        if legacy and legacy_available():
            makers["original: ImageDataGenerator.flow_from_directory (legacy tf.keras)"] = \
                lambda: legacy_generator(folder, batch_size, seed)
        if train:  # one model for all: the timing does not depend on the weights, and it compiles once
            keras.utils.set_random_seed(seed)
            model = benchmark_model(widths)
            model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy")
        rows = []
        for name, make in makers.items():
            dataset = make()
            started = time.perf_counter()
            images = _iterate(dataset)
            first = time.perf_counter() - started
            passes = []
            for _ in range(read_passes):
                started = time.perf_counter()
                _iterate(dataset)
                passes.append(time.perf_counter() - started)
            row = {"pipeline": name, "images": images, "first_pass_s": round(first, 2),
                   "read_images_per_s": _rate(images, passes)}
            if train:
                model.fit(dataset, epochs=1, shuffle=False, verbose=0)  # the pipelines shuffle themselves
                from .train import EpochClock  # (imports Keras: see above)
                clock = EpochClock()
                model.fit(dataset, epochs=epochs, shuffle=False, verbose=0, callbacks=[clock])
                row["train_images_per_s"] = _rate(images, clock.seconds)
            rows.append(row)
    return pd.DataFrame(rows).set_index("pipeline")


# --- 4. mixed precision -----------------------------------------------------------------------------------------

def _worker_precision(args) -> dict:
    """In the worker: the same short training under each dtype policy, the output layer kept in float32."""
    import keras
    x, y, _ = _load_faces(args.data)
    x, y = as_model_input(x), keras.utils.to_categorical(y, NUM_CLASSES)
    rows = []
    for policy in args.policies:
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(args.seed)
        model = with_float32_output(benchmark_model(args.widths))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        row = {"policy": policy, "compute_dtype": model.get_layer("s1_conv1").compute_dtype,
               "variable_dtype": model.get_layer("s1_conv1").variable_dtype,
               "output_dtype": model.layers[-1].compute_dtype, "optimizer": type(model.optimizer).__name__}
        try:
            row.update(_timed_fit(model, x, y, args.batch_size, args.epochs), status="ok")
        except Exception as err:  # a dtype a backend cannot run on this device
            first_line = (str(err).splitlines() or [""])[0]
            row.update(status="failed", error=f"{type(err).__name__}: {first_line[:200]}")
        rows.append(row)
        keras.mixed_precision.set_global_policy("float32")
    return {"backend": backend_name(), "status": "ok", "version": _backend_version(backend_name()),
            "device": _run_device(backend_name()), "images": len(x), "runs": rows}


def precision_benchmark(x: np.ndarray, y: np.ndarray, policies=POLICIES, *, backend: str = "tensorflow",
                        device: str = "cpu", widths=SMALL_WIDTHS, batch_size: int = 32, epochs: int = 1,
                        seed: int = 42, timeout: float = 600):
    """Images/s of the same training under each dtype policy (``float32``, ``mixed_float16``, ``mixed_bfloat16``),
    in one fresh process on ``device`` ('cpu' hides the GPUs): a DataFrame, one row a policy.

    ``mixed_*`` computes in 16 bits and keeps the weights in float32; ``mixed_float16`` also wraps the optimizer in
    a ``LossScaleOptimizer`` (column ``optimizer``), because small float16 gradients would round to zero.
    """
    import pandas as pd
    with tempfile.TemporaryDirectory(prefix="fer_scale_") as tmp:
        faces = _faces_file(x, y, Path(tmp))
        result = run_worker("precision", backend, device=device, data=faces, policies=policies, widths=widths,
                            batch_size=batch_size, epochs=epochs, seed=seed, timeout=timeout)
    if result.get("status") != "ok":
        return pd.DataFrame([{"policy": p, "status": result["status"], "error": result.get("error", "")}
                             for p in policies]).set_index("policy")
    table = pd.DataFrame(result["runs"]).set_index("policy")
    table.attrs.update(backend=result["version"], device=result["device"], wall_s=result["wall_s"])
    return table


# --- the worker's command line ----------------------------------------------------------------------------------

def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_helpers.scale",
                                     description="one measurement of chapter 11 in this process; prints JSON")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    common.add_argument("--devices", type=int, default=1)
    common.add_argument("--seed", type=int, default=42)
    common.add_argument("--data", default=None,
                        help=".npz with x (N, 48, 48) uint8 and y (N,) labels; default: the committed sample")

    b = sub.add_parser("backend", parents=[common], help="time a short training under one backend")
    b.add_argument("--weights", default=None, help="initial .weights.h5 (default: drawn with --seed)")
    b.add_argument("--widths", type=_ints, default=SMALL_WIDTHS)
    b.add_argument("--dropout", type=float, default=0.0)
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--epochs", type=int, default=1)
    b.add_argument("--learning-rate", type=float, default=0.01)
    b.set_defaults(worker=_worker_backend)

    p = sub.add_parser("parallel", parents=[common], help="one device vs --devices devices, a few SGD steps")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--per-replica-batch", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--contrast", action="store_true", help="also one device with the per-replica batch")
    p.set_defaults(worker=_worker_parallel)

    m = sub.add_parser("precision", parents=[common], help="time a short training under each dtype policy")
    m.add_argument("--policies", type=lambda s: tuple(s.split(",")), default=POLICIES)
    m.add_argument("--widths", type=_ints, default=SMALL_WIDTHS)
    m.add_argument("--batch-size", type=int, default=32)
    m.add_argument("--epochs", type=int, default=1)
    m.set_defaults(worker=_worker_precision)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one worker in this process and print its result as the last line of stdout (JSON)."""
    args = build_parser().parse_args(argv)
    if not backend_installed(args.backend):
        print(json.dumps({"backend": args.backend, "status": "not installed"}))
        return 0
    os.environ["KERAS_BACKEND"] = args.backend  # before the first `import keras` of this process
    result = args.worker(args)
    result["load_average_1min"] = load_average()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
