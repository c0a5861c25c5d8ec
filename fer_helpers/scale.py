"""Training at scale, measured on a small machine: Keras backends, data parallelism, input pipelines and mixed
precision (chapter 11).

The lessons are ordinary functions that run in this process, under its Keras backend:

- :func:`training_speed` (11.2): a short training of :func:`benchmark_model`, timed (images/s of the median epoch);
- :func:`train_on_devices` (11.4-11.5): the same SGD steps on one device and replicated on several
  (``keras.distribution.DataParallel`` under JAX, ``tf.distribute.MirroredStrategy`` under TensorFlow);
- :func:`array_dataset`, :func:`folder_dataset`, :func:`legacy_generator` and :func:`pipeline_benchmark` (11.6);
- :func:`train_under_policies` (11.7): the same training under each dtype policy, the output layer in float32.

Why a fresh process for most measurements. A Python process picks its Keras backend once, at the first
``import keras``; TensorFlow fixes its list of devices when it first runs an operation; JAX reads ``XLA_FLAGS``
once, when it starts; the dtype policy is global. So :func:`backend_benchmark`, :func:`data_parallel_check` and
:func:`precision_benchmark` call the functions above through :func:`fer_helpers.isolated.run`, in a fresh process
with ``KERAS_BACKEND`` set and the GPUs hidden (or the CPU split into devices). A backend whose package is missing
gives a row ``{"status": "not installed"}``, not an error. :func:`pipeline_benchmark` runs in the calling process
(``tf.data`` needs TensorFlow installed, whichever Keras backend is active).

This module imports neither jax nor torch itself: it imports with TensorFlow alone installed.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers

from . import isolated, machine
from .course import SAMPLE_DIR
from .data import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES, as_model_input, load_split
from .errors import FerError, reason
from .models import build_vgg_bn
from .train import EpochClock

#: The dtype policies compared by :func:`precision_benchmark`.
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
#: A narrow ``build_vgg_bn`` (a quarter of its channels): big enough to time, small enough for a 2-core CPU.
SMALL_WIDTHS = (8, 16, 32, 64)


def repeat_to(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` faces of (x, y) repeated as often as needed: a timing needs a fixed number of images,
    not new ones (the committed sample has only 140 training faces)."""
    index = np.arange(n) % len(y)
    return np.asarray(x)[index], np.asarray(y)[index]


def _faces_or_sample(x, y) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as given, or the committed sample's training faces when x is None."""
    if x is None:
        split = load_split(SAMPLE_DIR, "train")
        return split.x, split.y
    return np.asarray(x), np.asarray(y)


# --- models -----------------------------------------------------------------------------------------------------

def benchmark_model(widths=SMALL_WIDTHS, dropout: float = 0.0):
    """``models.build_vgg_bn`` with ``widths``; dropout 0 by default, so the backends draw no random numbers that
    differ and train the very same function."""
    return build_vgg_bn(widths=tuple(widths), dropout=dropout)


def parallel_model():
    """A tiny CNN for the data-parallel check: no dropout (no randomness) and no BatchNormalization (whose
    batch statistics would be per replica under ``tf.distribute``), so one device and two compute the same."""
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
    last = model.layers[-1]
    config = last.get_config()
    config["dtype"] = "float32"
    head = type(last).from_config(config)
    return keras.Model(model.inputs, head(model.layers[-2].output), name=model.name)


def _in_fresh_process(function: str, backend: str, *, cpu_devices: int = 1, device: str = "cpu",
                      timeout: float = 600, **kwargs) -> dict:
    """``function`` of this module, called with ``kwargs`` in a fresh process under ``backend``: 'cpu' hides the
    GPUs (``'any'`` lets the framework choose), ``cpu_devices=N`` splits the CPU into N devices for JAX. A backend
    that is not installed gives ``{"backend": ..., "status": "not installed"}`` without starting anything."""
    if not machine.backend_installed(backend):
        return {"backend": backend, "status": "not installed"}
    env = isolated.keras_env(backend, cpu_devices=cpu_devices, hide_gpus=device == "cpu")
    return {"backend": backend, **isolated.run(f"{__name__}:{function}", env=env, timeout=timeout, **kwargs)}


# --- 1. backends ------------------------------------------------------------------------------------------------

def _timed_fit(model, x, y, batch_size: int, epochs: int) -> dict:
    """One untimed epoch (tracing, compiling, memory), then ``epochs`` timed ones: images/s of the median one.

    Also the loss of the first batch (computed with the initial weights), of the second (after one update), and
    the mean loss of the last epoch: where the backends' different rounding starts, and where it has got to."""
    running = []  # Keras logs the running mean of the epoch's batch losses
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: running.append(float(logs["loss"])))
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    first = time.perf_counter() - started
    clock = EpochClock()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0, callbacks=[clock])
    return {"first_epoch_s": round(first, 2), "timed_s": round(sum(clock.seconds), 2),
            "images_per_s": machine.per_second(len(x), clock.seconds), "first_step_loss": running[0],
            "second_step_loss": 2 * running[1] - running[0] if len(running) > 1 else None,
            "final_loss": float(history.history["loss"][-1])}


def training_speed(x=None, y=None, *, widths=SMALL_WIDTHS, dropout: float = 0.0, batch_size: int = 32,
                   epochs: int = 1, learning_rate: float = 0.01, seed: int = 42, weights=None,
                   x_check=None, proba_check=None) -> dict:
    """Train :func:`benchmark_model` on faces (x, y) under this process's backend and time it: a dict.

    SGD with momentum, the faces in their order (``shuffle=False``); one untimed epoch, then ``epochs`` timed
    ones, of which the median counts (``images_per_s``). ``weights``: a ``.weights.h5`` file to start from
    (default: drawn with ``seed``); with ``x_check`` and ``proba_check`` (another process's predictions from the
    same weights), ``weights_max_diff`` says how far this backend's predictions are from them. Without x, the
    committed sample's training faces.
    """
    keras.utils.set_random_seed(seed)
    x, y = _faces_or_sample(x, y)
    x, y = as_model_input(x), keras.utils.to_categorical(y, NUM_CLASSES)
    model = benchmark_model(widths, dropout)
    weights_max_diff = None
    if weights:
        model.load_weights(weights)
        if x_check is not None:
            proba = np.asarray(model.predict(as_model_input(x_check), verbose=0))
            weights_max_diff = float(np.abs(proba - proba_check).max())
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9), loss="categorical_crossentropy")
    timing = _timed_fit(model, x, y, batch_size, epochs)
    return {"backend": machine.backend_name(), "status": "ok", "version": machine.backend_version(),
            "device": machine.run_device(), "images": len(x), "batch_size": batch_size, "epochs": epochs,
            **timing, "weights_max_diff": weights_max_diff, "load_average_1min": machine.load_average()}


def backend_benchmark(x: np.ndarray, y: np.ndarray, backends=machine.BACKENDS, *, widths=SMALL_WIDTHS,
                      dropout: float = 0.0, batch_size: int = 32, epochs: int = 1, learning_rate: float = 0.01,
                      gpu: bool | None = None, seed: int = 42, timeout: float = 600):
    """:func:`training_speed` under each Keras backend, each in its own process: a DataFrame, one row a backend.

    Same model (:func:`benchmark_model`), same initial weights (built here, saved as ``.weights.h5`` and loaded by
    every process, which also checks that its predictions equal ours: column ``weights_max_diff``), same faces in
    the same order. Columns: ``cpu_images_per_s`` (GPUs hidden) and ``gpu_images_per_s``, measured only where
    ``gpu`` is true (default: when ``nvidia-smi`` lists a GPU), else the text 'not measured'. Rows of backends that
    are not installed say so.
    """
    gpus = machine.gpu_count()
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
        options = dict(x=np.asarray(x, dtype=np.uint8), y=np.asarray(y, dtype=np.int64), weights=weights,
                       x_check=x_check, proba_check=proba, widths=list(widths), dropout=dropout,
                       batch_size=batch_size, epochs=epochs, learning_rate=learning_rate, seed=seed, timeout=timeout)
        for backend in backends:
            cpu = _in_fresh_process("training_speed", backend, device="cpu", **options)
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
                on_gpu = _in_fresh_process("training_speed", backend, device="any", **options)
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
    losses = []
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="categorical_crossentropy")
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    return losses, [np.asarray(w) for w in model.get_weights()]


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)).max() for u, v in zip(a, b)))


def _cpu_devices_tensorflow(devices: int) -> list[str]:
    """The names of ``devices`` logical CPU devices, the one CPU split before TensorFlow initialises."""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    with contextlib.suppress(RuntimeError):  # already initialised: it keeps the devices it has
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    return [d.name for d in tf.config.list_logical_devices("CPU")][:devices]


def train_on_devices(x=None, y=None, devices: int = 2, *, steps: int = 4, per_replica_batch: int = 16,
                     learning_rate: float = 0.05, contrast: bool = False, seed: int = 42) -> dict:
    """Train :func:`parallel_model` for ``steps`` steps of plain SGD on one device with the global batch
    (``per_replica_batch`` x ``devices``), then the same network, from the same initial weights on the same
    batches, replicated on ``devices`` CPU devices: JAX through ``keras.distribution.DataParallel``, TensorFlow
    through ``tf.distribute.MirroredStrategy``. Returns both runs' losses and their largest weight difference.

    The devices must exist in this process: TensorFlow splits its CPU only before it first runs an operation and
    JAX only when ``XLA_FLAGS`` says so at start-up, which is why :func:`data_parallel_check` runs this in a fresh
    process. Faces (x, y) are repeated to fill the steps (without them, the committed sample's). ``contrast``
    also trains one device with the *per-replica* batch (more, smaller steps), a different training.
    """
    backend = machine.backend_name()
    if backend not in ("tensorflow", "jax"):
        return {"backend": backend, "status": "not supported",
                "error": "data parallelism here uses keras.distribution (JAX) or tf.distribute (TensorFlow)"}
    names = _cpu_devices_tensorflow(devices) if backend == "tensorflow" else \
        keras.distribution.list_devices("cpu")[:devices]
    if len(names) < devices:
        raise FerError(f"{backend} shows {len(names)} CPU device(s) in this process, not {devices}: the number is "
                       f"fixed at start-up (data_parallel_check runs this in a fresh process)")
    global_batch = per_replica_batch * devices
    x, y = repeat_to(*_faces_or_sample(x, y), steps * global_batch)
    x, y = as_model_input(x), keras.utils.to_categorical(y, NUM_CLASSES)

    keras.utils.set_random_seed(seed)
    single = parallel_model()
    initial = single.get_weights()
    one_losses, one_weights = _fit_steps(single, x, y, global_batch, learning_rate)
    small_weights = None
    if contrast:  # the tempting mistake: one device with the *per-replica* batch takes more, noisier steps
        small = parallel_model()
        small.set_weights(initial)
        _, small_weights = _fit_steps(small, x, y, per_replica_batch, learning_rate)

    if backend == "jax":
        distribution = keras.distribution.DataParallel(devices=names)
        keras.distribution.set_distribution(distribution)
        try:
            replicated = parallel_model()  # variables made under the distribution: a copy on every device
            replicated.set_weights(initial)
            many_losses, many_weights = _fit_steps(replicated, x, y, global_batch, learning_rate)
            layout = distribution.get_data_layout((global_batch, IMAGE_SIZE, IMAGE_SIZE, 1))
            how = f"keras.distribution.DataParallel, batch axis split over {layout.device_mesh.shape}"
        finally:
            keras.distribution.set_distribution(None)
    else:
        import tensorflow as tf
        strategy = tf.distribute.MirroredStrategy(names)
        with strategy.scope():  # variables made in the scope are mirrored: a copy on every device
            replicated = parallel_model()
            replicated.set_weights(initial)
            many_losses, many_weights = _fit_steps(replicated, x, y, global_batch, learning_rate)
        how = f"tf.distribute.MirroredStrategy, {strategy.num_replicas_in_sync} replicas in sync"
    return {"backend": backend, "status": "ok", "devices": [str(d) for d in names], "how": how,
            "replicas": devices, "per_replica_batch": per_replica_batch, "global_batch": global_batch,
            "steps": len(one_losses), "learning_rate": learning_rate,
            "losses_one_device": one_losses, "losses_replicated": many_losses,
            "max_weight_diff": _max_diff(one_weights, many_weights),
            "max_loss_diff": float(np.abs(np.subtract(one_losses, many_losses)).max()),
            "max_weight_change": _max_diff(one_weights, initial),
            "max_weight_diff_per_replica_batch_on_one_device":
                None if small_weights is None else _max_diff(small_weights, many_weights),
            "load_average_1min": machine.load_average()}


def data_parallel_check(backend: str = "jax", devices: int = 2, *, steps: int = 4, per_replica_batch: int = 16,
                        learning_rate: float = 0.05, x: np.ndarray | None = None, y: np.ndarray | None = None,
                        contrast: bool = False, seed: int = 42, tolerance: float = 1e-5,
                        timeout: float = 600) -> dict:
    """:func:`train_on_devices` under ``backend`` in a fresh process whose CPU shows ``devices`` devices.

    Returns its dict with ``equal`` added: the largest weight difference is within ``tolerance`` (float32 sums in
    another order differ in the last bits, about 1e-7 relative, so 1e-5 is generous for a few steps).
    """
    faces = {} if x is None else {"x": np.asarray(x, dtype=np.uint8), "y": np.asarray(y, dtype=np.int64)}
    result = _in_fresh_process("train_on_devices", backend, cpu_devices=devices, device="cpu", timeout=timeout,
                               devices=devices, steps=steps, per_replica_batch=per_replica_batch,
                               learning_rate=learning_rate, contrast=contrast, seed=seed, **faces)
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
    import tensorflow as tf  # tf.data, whichever Keras backend is active
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
            _, passes = machine.timed_calls(lambda dataset=dataset: _iterate(dataset), read_passes)
            row = {"pipeline": name, "images": images, "first_pass_s": round(first, 2),
                   "read_images_per_s": machine.per_second(images, passes)}
            if train:
                model.fit(dataset, epochs=1, shuffle=False, verbose=0)  # the pipelines shuffle themselves
                clock = EpochClock()
                model.fit(dataset, epochs=epochs, shuffle=False, verbose=0, callbacks=[clock])
                row["train_images_per_s"] = machine.per_second(images, clock.seconds)
            rows.append(row)
    return pd.DataFrame(rows).set_index("pipeline")


# --- 4. mixed precision -----------------------------------------------------------------------------------------

def train_under_policies(x=None, y=None, policies=POLICIES, *, widths=SMALL_WIDTHS, batch_size: int = 32,
                         epochs: int = 1, seed: int = 42) -> dict:
    """The same short training (:func:`benchmark_model`, Adam, the faces in order) under each global dtype policy,
    the output layer kept in float32 (:func:`with_float32_output`), timed as :func:`training_speed` times: a dict
    with one entry of ``runs`` per policy. A policy this backend cannot run on its device gives a run with
    ``status`` 'failed' and the first line of the error. The policy in force before is restored at the end.
    """
    x, y = _faces_or_sample(x, y)
    x, y = as_model_input(x), keras.utils.to_categorical(y, NUM_CLASSES)
    before = keras.mixed_precision.global_policy().name
    rows = []
    try:
        for policy in policies:
            keras.mixed_precision.set_global_policy(policy)  # every layer made from now on computes in it
            keras.utils.set_random_seed(seed)
            model = with_float32_output(benchmark_model(widths))
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
            row = {"policy": policy, "compute_dtype": model.get_layer("s1_conv1").compute_dtype,
                   "variable_dtype": model.get_layer("s1_conv1").variable_dtype,
                   "output_dtype": model.layers[-1].compute_dtype, "optimizer": type(model.optimizer).__name__}
            try:
                row.update(_timed_fit(model, x, y, batch_size, epochs), status="ok")
            except Exception as err:  # a dtype a backend cannot run on this device
                row.update(status="failed", error=f"{type(err).__name__}: {reason(err, 200)}")
            rows.append(row)
    finally:
        keras.mixed_precision.set_global_policy(before)
    return {"backend": machine.backend_name(), "status": "ok", "version": machine.backend_version(),
            "device": machine.run_device(), "images": len(x), "runs": rows, "load_average_1min": machine.load_average()}


def precision_benchmark(x: np.ndarray, y: np.ndarray, policies=POLICIES, *, backend: str = "tensorflow",
                        device: str = "cpu", widths=SMALL_WIDTHS, batch_size: int = 32, epochs: int = 1,
                        seed: int = 42, timeout: float = 600):
    """:func:`train_under_policies` in one fresh process (the policy is global) on ``device`` ('cpu' hides the
    GPUs): a DataFrame, one row a policy.

    ``mixed_*`` computes in 16 bits and keeps the weights in float32; ``mixed_float16`` also wraps the optimizer in
    a ``LossScaleOptimizer`` (column ``optimizer``), because small float16 gradients would round to zero.
    """
    result = _in_fresh_process("train_under_policies", backend, device=device, timeout=timeout,
                               x=np.asarray(x, dtype=np.uint8), y=np.asarray(y, dtype=np.int64),
                               policies=list(policies), widths=list(widths), batch_size=batch_size, epochs=epochs,
                               seed=seed)
    if result.get("status") != "ok":
        return pd.DataFrame([{"policy": p, "status": result["status"], "error": result.get("error", "")}
                             for p in policies]).set_index("policy")
    table = pd.DataFrame(result["runs"]).set_index("policy")
    table.attrs.update(backend=result["version"], device=result["device"], wall_s=result["wall_s"])
    return table
