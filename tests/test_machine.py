"""fer_helpers.machine: the timers take medians after untimed warm-up calls, and one load threshold says when the
cores were shared."""
import os

import pytest

from fer_helpers import machine


def test_timed_calls_warm_up_untimed_then_time_each_call():
    calls = []
    result, seconds = machine.timed_calls(lambda: calls.append(len(calls)) or len(calls), repeats=3, warmup=2)
    assert len(calls) == 5 and result == 5 and len(seconds) == 3 and all(s >= 0 for s in seconds)
    assert machine.median_seconds(lambda: None, repeats=0) >= 0     # at least one timed call


def test_median_rounds_time_every_call_in_turn():
    order = []
    medians = machine.median_rounds({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3, warmup=1)
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
    assert order == ["a", "b"] + ["a", "b"] * 3                     # warm-up, then rounds that alternate


def test_per_second_uses_the_median_so_one_slow_pass_does_not_count():
    assert machine.per_second(100, [1.0, 1.0, 50.0]) == 100.0


@pytest.mark.parametrize(("load", "cores", "shared"), [(2.4, 2, False), (2.6, 2, True), (None, 2, False)])
def test_cores_shared_above_the_one_threshold(load, cores, shared, monkeypatch):
    monkeypatch.setattr(machine, "load_average", lambda: load)
    assert machine.cores_shared(load, cores) is shared
    assert machine.cores_shared(cores=cores) is shared              # the load now, when none is given


def test_probes_answer_without_a_gpu_or_a_backend():
    assert machine.backend_installed("tensorflow") and not machine.backend_installed("no_such_backend")
    assert machine.gpu_count() >= 0
    assert machine.hardware().startswith(("CPU only (", "1 GPU", f"{len(machine.gpu_names())} GPU"))
    assert machine.backend_version().startswith(f"{machine.backend_name()} ")
    assert os.cpu_count() is None or str(os.cpu_count()) in machine.hardware() or "GPU" in machine.hardware()
    loads = machine.load_averages()
    assert loads is None or len(loads.split(", ")) == 3
