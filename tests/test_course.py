import sys

import pytest

from fer_helpers import course


@pytest.mark.parametrize("value,default,expected", [(None, True, True), (None, False, False), ("1", False, True),
                                                    ("0", True, False), ("false", True, False), ("", False, False)])
def test_quick_mode_env_overrides_default(monkeypatch, value, default, expected):
    if value is None:
        monkeypatch.delenv("FER_QUICK", raising=False)
    else:
        monkeypatch.setenv("FER_QUICK", value)
    assert course.quick_mode(default) is expected


def test_data_dir_prefers_fer_data_then_local_copy_then_sample(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA", str(tmp_path))
    assert course.data_dir() == (tmp_path, "FER_DATA")
    monkeypatch.delenv("FER_DATA")
    monkeypatch.setattr(course, "LOCAL_FULL_DIR", tmp_path)
    assert course.data_dir() == (tmp_path, "data/fer2013")
    monkeypatch.setattr(course, "LOCAL_FULL_DIR", tmp_path / "absent")
    assert course.data_dir() == (course.SAMPLE_DIR, "sample")


def test_host_detection_uses_sys_modules(monkeypatch):
    for var in ("KAGGLE_KERNEL_RUN_TYPE", "BINDER_SERVICE_HOST", "BINDER_REQUEST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delitem(sys.modules, "kaggle_secrets", raising=False)
    assert course.detect_host() == "local"
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert course.detect_host() == "colab"
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.setitem(sys.modules, "kaggle_secrets", object())
    assert course.detect_host() == "kaggle"


def test_banner_names_mode_data_and_hardware(monkeypatch, capsys):
    monkeypatch.setenv("FER_QUICK", "1")
    monkeypatch.delenv("FER_DATA", raising=False)
    monkeypatch.setattr(course, "LOCAL_FULL_DIR", course.REPO_ROOT / "no-such-folder")
    session = course.start()
    line = capsys.readouterr().out.splitlines()[0]
    assert session.quick and session.data_source == "sample"
    assert line.startswith("mode: quick | data: sample | host: ")
    assert "keras 3." in line and ("CPU" in line or "GPU" in line)


def test_seeding_makes_draws_repeat():
    import numpy as np
    course.seed_everything(7)
    a = np.random.rand(3)
    course.seed_everything(7)
    assert (a == np.random.rand(3)).all()


def test_version_check_is_quiet_on_the_tested_versions_and_speaks_otherwise(monkeypatch):
    assert course.check_versions() == []
    monkeypatch.setitem(course.TESTED, "keras", "9.9")
    notes = course.check_versions()
    assert len(notes) == 1 and notes[0].startswith("note: keras 3.") and "9.9" in notes[0]


def test_full_mode_on_the_sample_warns_and_still_runs(monkeypatch, capsys):
    """FER_QUICK=0 with no full dataset found (not on Colab/Kaggle) must not pass silently for a full run."""
    monkeypatch.setenv("FER_QUICK", "0")
    monkeypatch.delenv("FER_DATA", raising=False)
    monkeypatch.setattr(course, "LOCAL_FULL_DIR", course.REPO_ROOT / "no-such-folder")
    monkeypatch.setattr(course, "detect_host", lambda: "local")
    session = course.start()
    lines = capsys.readouterr().out.splitlines()
    assert not session.quick and session.data_source == "sample"
    assert lines[0].startswith("mode: full | data: sample | ")       # the banner stays the first line
    assert lines[1].startswith("warning: full mode") and "FER_DATA" in lines[1]
    with pytest.warns(UserWarning, match="no full dataset"):
        course.start(verbose=False)


@pytest.mark.parametrize("quick,source", [(True, "sample"), (False, "FER_DATA"), (False, "data/fer2013")])
def test_no_sample_warning_where_the_data_fit_the_mode(quick, source):
    assert course.full_mode_on_sample_warning(quick, source) is None
