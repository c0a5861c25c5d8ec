"""The pins in environment.yml (Binder, conda) and pyproject.toml (pip, CI) must be the same."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~;\s\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return {_name(r): r.replace(" ", "") for r in extras["course"] + extras["test"]}


def _environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {_name(r): r.replace(" ", "") for r in pip_section if not r.startswith("-e")}


def test_environment_yml_has_the_same_pins_as_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_every_course_requirement_is_pinned_exactly():
    for name, requirement in _pyproject_pins().items():
        assert "==" in requirement, f"{name} is not pinned: {requirement}"


def test_opencv_stays_below_5_everywhere():
    # OpenCV 5 has no CascadeClassifier and no Haar files (chapter 8 needs them)
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(r.startswith("opencv-python-headless") and "<5" in r for r in core)
    assert _pyproject_pins()["opencv-python-headless"].split("==")[1].startswith("4.")


def test_environment_yml_installs_the_course_package_and_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip_section
