"""fer_helpers.isolated: a function called in a fresh process gets its JSON and array arguments and its environment,
and a failure or a timeout comes back as one line, not an exception."""
import textwrap

import numpy as np

from fer_helpers import isolated

MODULE = textwrap.dedent('''
    import os
    import time

    def echo(x, n, name, shape=None):
        return {"sum": int(x.sum()), "shape": list(x.shape), "dtype": str(x.dtype), "n": n, "name": name,
                "backend": os.environ.get("KERAS_BACKEND"), "mean": x.mean()}

    def fail():
        raise ValueError("bad input\\nsecond line of the message")

    def wait():
        time.sleep(60)
''')


def _module(tmp_path):
    (tmp_path / "probe_module.py").write_text(MODULE)
    return [tmp_path]


def test_a_call_in_a_fresh_process_gets_its_arguments_and_environment(tmp_path):
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    result = isolated.run("probe_module:echo", path=_module(tmp_path), env={"KERAS_BACKEND": "jax"},
                          x=x, n=3, name=tmp_path / "a path")
    assert result.pop("wall_s") > 0
    assert result == {"sum": 66, "shape": [3, 4], "dtype": "uint8", "n": 3, "name": str(tmp_path / "a path"),
                      "backend": "jax", "mean": 5.5}                   # a NumPy number comes back as a float


def test_a_failing_call_comes_back_as_one_line(tmp_path):
    result = isolated.run("probe_module:fail", path=_module(tmp_path))
    assert result["status"] == "failed" and result["error"] == "ValueError: bad input"
    missing = isolated.run("probe_module:no_such_function", path=_module(tmp_path))
    assert missing["status"] == "failed" and missing["error"].startswith("AttributeError: ")


def test_a_call_that_does_not_finish_in_time_says_so(tmp_path):
    result = isolated.run("probe_module:wait", path=_module(tmp_path), timeout=5)
    assert result == {"status": "timed out", "error": "no result within 5 s"}


def test_keras_env_hides_gpus_and_splits_the_cpu_for_jax_only(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_foo --xla_force_host_platform_device_count=8")
    env = isolated.keras_env("jax", cpu_devices=2)
    assert env["KERAS_BACKEND"] == "jax" and env["CUDA_VISIBLE_DEVICES"] == "" and env["JAX_PLATFORMS"] == "cpu"
    assert env["XLA_FLAGS"] == "--xla_cpu_foo --xla_force_host_platform_device_count=2"
    assert isolated.keras_env("tensorflow", cpu_devices=2, hide_gpus=False) == {"KERAS_BACKEND": "tensorflow"}
