"""Launching the course where the README says: the one repository setting and its links, the setup cell (host
detection, the clone and its one-sentence failures), Kaggle's attached data, adding only what a hosted runtime
lacks, the ONNX import check, Binder's files, the laptop markers and the command line's first-run papercuts.

The hosts themselves are simulated end to end by ``tools/simulate_hosts.py`` (``make simulate-hosts``)."""
import json
import os
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from PIL import Image

from fer_helpers import course, data, export
from fer_helpers.__main__ import main
from fer_helpers.errors import FerError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import course_repo  # noqa: E402
import stamp_headers  # noqa: E402

OTHER = "https://github.com/someone/elsewhere"


# --- the one repository setting ---------------------------------------------------------------------------------

def test_every_link_follows_the_one_setting():
    """README, guide, chapters and student copies: every launch link and clone names ORG/REPO at REF."""
    problems = course_repo.check()
    assert not problems, "run `python tools/course_repo.py`:\n" + "\n".join(problems)


def test_repoint_rewrites_every_kind_of_link_and_nothing_else():
    text = ("[a](https://colab.research.google.com/github/old/name/blob/v1/notebooks/05_training.ipynb)\n"
            "[b](https://mybinder.org/v2/gh/old/name/v1?labpath=notebooks)\n"
            "[c](https://kaggle.com/kernels/welcome?src=https://github.com/old/name/blob/v1/students/01_x.ipynb)\n"
            "git clone --depth 1 --branch v1 https://github.com/old/name.git\n"
            "[theirs](https://github.com/LetheSec/Fer2013-Facial-Emotion-Recognition-Pytorch)\n"
            "to fill in: https://colab.research.google.com/github/ORG/REPO/blob/REF/students/NN_topic.ipynb\n")
    assert len(course_repo.stale_links(text)) == 4
    new = course_repo.repoint(text)
    assert course_repo.stale_links(new) == []
    org, repo, ref = course_repo.ORG, course_repo.REPO, course_repo.REF
    assert f"github/{org}/{repo}/blob/{ref}/notebooks/05_training.ipynb" in new
    assert f"v2/gh/{org}/{repo}/{ref}?labpath=notebooks" in new
    assert f"src=https://github.com/{org}/{repo}/blob/{ref}/students/01_x.ipynb" in new
    assert f"--branch {ref} https://github.com/{org}/{repo}.git" in new
    assert "github.com/LetheSec/Fer2013-Facial-Emotion-Recognition-Pytorch" in new, "other projects' links stay"
    assert "github/ORG/REPO/blob/REF/students" in new, "a placeholder for the reader stays a placeholder"


def test_a_fork_names_itself_in_one_command(tmp_path, monkeypatch):
    copy = tmp_path / "course_repo.py"
    copy.write_text((ROOT / "tools" / "course_repo.py").read_text())
    for name in ("ORG", "REPO", "REF", "URL", "CLONE_URL"):
        monkeypatch.setattr(course_repo, name, getattr(course_repo, name))
    course_repo.set_names("myschool/fer-course@spring-2027", this_file=copy)
    text = copy.read_text()
    assert 'ORG = "myschool"' in text and 'REPO = "fer-course"' in text and 'REF = "spring-2027"' in text
    assert course_repo.clone_command() == \
        "git clone --quiet --depth 1 --branch spring-2027 https://github.com/myschool/fer-course.git"
    assert course_repo.kaggle_url("notebooks/01_x.ipynb").endswith("github.com/myschool/fer-course/blob/spring-2027/"
                                                                   "notebooks/01_x.ipynb")
    with pytest.raises(SystemExit, match="ORG/REPO"):
        course_repo.set_names("not a name", this_file=copy)


def test_a_github_origin_naming_another_repository_is_reported(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert course_repo.remote_mismatch(tmp_path) is None, "no origin: nothing to compare"
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", f"{OTHER}.git"], check=True)
    line = course_repo.remote_mismatch(tmp_path)
    assert line and "someone/elsewhere" in line and "--set someone/elsewhere@" in line
    subprocess.run(["git", "-C", str(tmp_path), "remote", "set-url", "origin",
                    f"git@github.com:{course_repo.ORG}/{course_repo.REPO}.git"], check=True)
    assert course_repo.remote_mismatch(tmp_path) is None


# --- host detection: one implementation -------------------------------------------------------------------------

HOST_VARIABLES = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE", "BINDER_SERVICE_HOST",
                  "BINDER_REQUEST")


@pytest.fixture
def no_host(monkeypatch):
    for name in HOST_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for module in ("google.colab", "kaggle_secrets"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return monkeypatch


@pytest.mark.parametrize("module,variable,expected", [
    (None, None, None),
    ("google.colab", None, "colab"),
    (None, "COLAB_RELEASE_TAG", "colab"),
    ("kaggle_secrets", None, "kaggle"),
    (None, "KAGGLE_KERNEL_RUN_TYPE", "kaggle"),  # Kaggle's kernels do not preload kaggle_secrets
    (None, "KAGGLE_URL_BASE", "kaggle"),
])
def test_the_setup_cell_and_course_detect_hosts_alike(no_host, module, variable, expected):
    if module:
        no_host.setitem(sys.modules, module, types.ModuleType(module))
    if variable:
        no_host.setenv(variable, "Interactive")
    cell = {}
    exec(stamp_headers.hosted_runtime_source(), {"os": os, "sys": sys}, cell)  # the copy the setup cell carries
    assert cell["hosted_runtime"]() == course.hosted_runtime() == expected
    assert course.detect_host() == (expected or "local")


def test_the_setup_cell_carries_course_hosted_runtime_verbatim():
    head = stamp_headers.setup_head()
    assert stamp_headers.hosted_runtime_source() in head
    assert 'os.environ["FER_QUICK"] = "0"' in head.split("def hosted_runtime")[0], "full mode before the code"
    assert "%pip" not in head and "!git" not in head


# --- the setup cell's clone: success, and one sentence when it fails --------------------------------------------

def _tiny_course(tmp_path: Path) -> Path:
    """A git repository with the course's shape (fer_helpers/, notebooks/) on the branch REF."""
    repo = tmp_path / "upstream"
    (repo / "fer_helpers").mkdir(parents=True)
    (repo / "fer_helpers" / "__init__.py").write_text("WHERE = 'the clone'\n")
    (repo / "notebooks").mkdir()
    (repo / "notebooks" / "README.md").write_text("chapters\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", course_repo.REF, str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "course"], check=True)
    return repo


def _run_setup(tmp_path: Path, clone_from: str, host_variable: str):
    """The setup cell (template head + an import) in a fresh Python, as on a hosted runtime in /content."""
    content = tmp_path / "content"
    content.mkdir(exist_ok=True)
    code = stamp_headers.setup_head() + "import fer_helpers\nprint(fer_helpers.WHERE, os.getcwd())\n"
    env = {k: v for k, v in os.environ.items() if k not in HOST_VARIABLES and not k.startswith("GIT_CONFIG")}
    env.update({host_variable: "Interactive", "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"url.{clone_from}.insteadOf", "GIT_CONFIG_VALUE_0": course_repo.CLONE_URL,
                "PYTHONPATH": ""})
    return subprocess.run([sys.executable, "-c", code], cwd=content, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_setup_cell_clones_checks_and_enters_the_course(tmp_path):
    upstream = _tiny_course(tmp_path)
    done = _run_setup(tmp_path, f"file://{upstream}", "COLAB_RELEASE_TAG")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("content/fer-course/notebooks".replace("fer-course", course_repo.REPO))
    assert done.stdout.startswith("the clone") and done.stderr == "", "quiet: no git or pip output"
    shallow = subprocess.run(["git", "-C", str(tmp_path / "content" / course_repo.REPO), "rev-list", "--count",
                              "HEAD"], capture_output=True, text=True)
    assert shallow.stdout.strip() == "1"


@pytest.mark.parametrize("clone_from,host,says", [
    ("https://nonexistent.invalid/x/", "KAGGLE_KERNEL_RUN_TYPE", "turn Internet on in the notebook's settings"),
    ("https://nonexistent.invalid/x/", "COLAB_RELEASE_TAG", "no network: check the runtime's connection"),
    ("file:///nonexistent/private/", "COLAB_RELEASE_TAG", "private, missing, or not this course"),
])
def test_a_failed_clone_is_one_sentence(tmp_path, clone_from, host, says):
    done = _run_setup(tmp_path, clone_from, host)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"RuntimeError: could not fetch the course from {course_repo.repo_url()}: ")
    assert says in last and "fatal:" not in done.stderr, "git's own lines are not shown"


def test_a_clone_without_fer_helpers_is_not_this_course(tmp_path):
    upstream = _tiny_course(tmp_path)
    git = ["git", "-C", str(upstream), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["rm", "-q", "-r", "fer_helpers"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "not the course"], check=True)
    done = _run_setup(tmp_path, f"file://{upstream}", "COLAB_RELEASE_TAG")
    assert done.returncode != 0 and "not this course" in done.stderr.strip().splitlines()[-1]


# --- Kaggle: attached data, kagglehub failures ------------------------------------------------------------------

def _faces(folder: Path, classes=("Angry", "Happy"), n: int = 2) -> None:
    for name in classes:
        (folder / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((48, 48), 40 * i, np.uint8)).save(folder / name / f"{i}.png")


@pytest.mark.parametrize("layout", ["slug/train", "slug/Training", "owner/slug/train/train", "slug/data/train"])
def test_fer2013_attached_under_kaggle_input_is_found(tmp_path, layout):
    _faces(tmp_path / "input" / layout)
    (tmp_path / "input" / "other-dataset" / "train" / "cats").mkdir(parents=True)  # not FER2013: passed over
    found = data.find_dataset(tmp_path / "input")
    split = data.load_split(found, "train", cache=False)
    assert found == tmp_path / "input" / layout.rsplit("/", 2 if layout.endswith("train/train") else 1)[0]
    assert len(split) == 4 and set(split.y.tolist()) == {0, 3}


def test_the_csv_layout_is_found_and_nothing_is_none(tmp_path):
    (tmp_path / "input" / "csvcopy").mkdir(parents=True)
    (tmp_path / "input" / "csvcopy" / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    assert data.find_dataset(tmp_path / "input") == tmp_path / "input" / "csvcopy"
    assert data.find_dataset(tmp_path / "nothing") is None


def test_course_uses_the_attached_copy_on_kaggle_only(tmp_path, no_host):
    _faces(tmp_path / "input" / "msambare-fer2013" / "train")
    no_host.setattr(course, "KAGGLE_INPUT", tmp_path / "input")
    no_host.setattr(course, "LOCAL_FULL_DIR", tmp_path / "absent")
    no_host.delenv("FER_DATA", raising=False)
    assert course.data_dir() == (course.SAMPLE_DIR, "sample"), "elsewhere: /kaggle/input is not looked at"
    no_host.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert course.data_dir() == (tmp_path / "input" / "msambare-fer2013", "kaggle input")
    no_host.setenv("FER_DATA", str(tmp_path))
    assert course.data_dir() == (tmp_path, "FER_DATA"), "FER_DATA still wins"


def test_a_kagglehub_failure_is_one_line_naming_the_ways_out(no_host):
    def refuse(dataset):
        raise ConnectionError("HTTPSConnectionPool(host='api.kaggle.com'): Max retries exceeded\n" * 30)
    no_host.setitem(sys.modules, "kagglehub", types.SimpleNamespace(dataset_download=refuse))
    no_host.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    with pytest.raises(FerError) as err:
        course.fetch_with_kagglehub()
    message = str(err.value)
    assert "\n" not in message and "ConnectionError" in message and "turn Internet on" in message
    assert "FER_DATA" in message and "FER_QUICK=1" in message


# --- a hosted runtime gets only what it lacks -------------------------------------------------------------------

class _Pip:
    def __init__(self, returncode=0):
        self.calls, self.constraints, self.returncode = [], "", returncode

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        self.constraints = Path(argv[argv.index("-c") + 1]).read_text()
        return subprocess.CompletedProcess(argv, self.returncode, "", "ERROR: ResolutionImpossible\n")


def test_nothing_is_installed_when_nothing_is_missing(monkeypatch, capsys):
    pip = _Pip()
    monkeypatch.setattr(course.subprocess, "run", pip)
    assert course.install_missing("numpy", "keras>=3.6", "opencv-python-headless<5") == []
    assert pip.calls == [] and capsys.readouterr().out == ""


def test_what_is_missing_is_installed_with_everything_else_held(monkeypatch, capsys):
    pip = _Pip()
    monkeypatch.setattr(course.subprocess, "run", pip)
    assert course.install_missing("numpy", "surely-not-installed-package==1.0") == ["surely-not-installed-package"]
    argv = pip.calls[0]
    assert argv[:4] == [sys.executable, "-m", "pip", "install"] and argv[-1] == "surely-not-installed-package==1.0"
    assert f"numpy=={np.__version__}" in pip.constraints.splitlines(), "preinstalled packages are held"
    assert capsys.readouterr().out.count("\n") == 1


def test_a_runtime_that_cannot_take_it_is_left_unchanged_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(course.subprocess, "run", _Pip(returncode=1))
    assert course.install_missing("surely-not-installed-package") == []
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "without changing this runtime's packages" in out


# --- chapter 10: the ONNX import path ---------------------------------------------------------------------------

def test_an_onnx_built_for_another_protobuf_is_one_line(tmp_path, monkeypatch):
    fake = tmp_path / "fake" / "onnx"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise Exception('Detected mismatched Protobuf Gencode/Runtime major versions when loading "
        "onnx/onnx-ml.proto: gencode 6.31.1 runtime 5.29.5.')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    monkeypatch.delitem(sys.modules, "onnx", raising=False)
    with pytest.raises(FerError) as err:
        export.require_onnx()
    message = str(err.value)
    assert "\n" not in message and "protobuf" in message and "restart the runtime" in message


def test_export_all_skips_onnx_with_one_line_when_onnx_cannot_load(monkeypatch, capsys, tmp_path):
    def conflict():
        raise FerError("onnx 1.23.2 does not work with the protobuf 5.29.5 this kernel has loaded")
    monkeypatch.setattr(export, "require_onnx", conflict)
    assert export.export_all(object(), tmp_path / "out", formats=("onnx",)) == {}
    assert capsys.readouterr().out == \
        "skipped onnx: onnx 1.23.2 does not work with the protobuf 5.29.5 this kernel has loaded\n"


# --- Binder ------------------------------------------------------------------------------------------------------

def _pip_section(path: Path) -> list[str]:
    env = yaml.safe_load(path.read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)


#: Binder's own environment has the Jupyter packages; the `test` extra's are for CI, not for readers.
BINDER_PROVIDES = {"jupyterlab", "ipykernel", "ipywidgets", "nbconvert", "jupytext"}


def test_binder_environment_is_cacheable_and_leaves_binders_jupyter_alone():
    binder = _pip_section(ROOT / ".binder" / "environment.yml")
    # repo2docker stops caching the environment when it holds a local requirement (-e ., a path, file:)
    assert not any(r.startswith(("-e", ".", "/", "file:")) for r in binder)
    full = [r for r in _pip_section(ROOT / "environment.yml") if not r.startswith("-e")]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    left_out = BINDER_PROVIDES | {Requirement(r).name.lower() for r in extras["test"]}
    assert binder == [r for r in full if Requirement(r).name.lower() not in left_out]
    assert "python=3.11" in yaml.safe_load((ROOT / ".binder" / "environment.yml").read_text())["dependencies"]


def test_binder_installs_the_package_after_the_environment_and_keeps_git_out():
    post_build = ROOT / ".binder" / "postBuild"
    assert os.access(post_build, os.X_OK) and "pip install --quiet --no-deps -e ." in post_build.read_text()
    ignored = (ROOT / ".binder" / ".dockerignore").read_text().splitlines()
    assert ".git" in ignored  # repo2docker reads .binder/.dockerignore when .binder/ exists


# --- laptops ------------------------------------------------------------------------------------------------------

PLATFORMS = {  # (sys_platform, platform_machine, platform_system) as pip sees them
    "Linux x86-64": ("linux", "x86_64", "Linux"), "Linux aarch64 (WSL on ARM)": ("linux", "aarch64", "Linux"),
    "Windows x64": ("win32", "AMD64", "Windows"), "macOS arm64": ("darwin", "arm64", "Darwin"),
}


@pytest.mark.parametrize("platform_name", PLATFORMS)
def test_each_supported_laptop_gets_one_tensorflow_that_has_wheels_there(platform_name):
    sys_platform, machine, system = PLATFORMS[platform_name]
    env = {"sys_platform": sys_platform, "platform_machine": machine, "platform_system": system,
           "python_version": "3.12"}
    course_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["course"]
    chosen = [Requirement(r).name for r in course_extra
              if Requirement(r).name.startswith("tensorflow") and Marker(str(Requirement(r).marker)).evaluate(env)]
    # tensorflow-cpu has wheels for x86-64 Linux and Windows only (the review's wheel matrix)
    assert chosen == (["tensorflow-cpu"] if machine in ("x86_64", "AMD64") else ["tensorflow"])


def test_python_outside_the_tested_range_is_refused_by_name():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires.replace(" ", "") == ">=3.11,<3.14"


# --- the command line's first run ---------------------------------------------------------------------------------

def test_evaluate_on_the_sample_says_it_is_the_sample(capsys):
    assert main(["evaluate", "--data", str(course.SAMPLE_DIR), "--model", "seed"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "of the committed sample" in first and "full test split" in first
    assert "1 test images" not in out


def test_an_unknown_model_is_refused_before_the_data_load(capsys, monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("the data were read before the model name was checked")
    monkeypatch.setattr(data, "load_split", no_load)
    assert main(["evaluate", "--data", str(course.SAMPLE_DIR), "--model", "nosuch"]) == 2
    assert "no bundled model 'nosuch'" in capsys.readouterr().err


def test_a_missing_data_folder_names_the_option_not_the_variable(capsys):
    assert main(["evaluate", "--data", "no/such/folder"]) == 2
    err = capsys.readouterr().err
    assert "--data takes the folder" in err and "FER_DATA" not in err


def test_a_person_at_a_terminal_sees_a_first_line_at_once(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["evaluate", "--data", "no/such/folder"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == "fer_helpers evaluate: loading Keras and TensorFlow..."


def test_simulate_hosts_lists_its_hosts_without_installing():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "simulate_hosts.py"), "--list"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    hosts = json.loads(done.stdout)
    assert {"colab", "kaggle"} <= set(hosts)
