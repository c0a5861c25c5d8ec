"""The one place that names the course's public repository and the ref (branch or tag) it is launched from.

Every link to the repository follows from ``ORG``, ``REPO`` and ``REF`` below: the Colab, Kaggle and Binder badges
of the chapters, of the student copies and of the README; the setup cell's clone of the course on Colab and
Kaggle (a shallow clone of ``REF``: what every chapter's first cell installs); the book's launch and repository
buttons; the links in the teachers' guide. To publish your own copy (a fork, a school's mirror, a semester frozen
on a tag), one command sets them and re-points every link:

    python tools/course_repo.py --set myschool/fer-course@spring-2027

It rewrites this file's three names, the links in the Markdown files (``LINK_FILES``), then runs the generators
(``GENERATORS``: ``tools/stamp_headers.py``, ``make_student_copies.py``, ``make_book.py``,
``make_assignments.py``). Without ``--set`` it re-points everything to the names below (after editing them by
hand). ``--check`` changes nothing and lists every
link that does not follow them (``tests/test_launch.py`` runs it), and a GitHub ``origin`` remote that names
another repository (a fork that has not re-pointed its links would clone, and pip-install, upstream's code).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ORG = "fer-course"
REPO = "fer-course"
REF = "main"  # the branch or tag that badges, launch buttons and the setup cell's clone point at

ROOT = Path(__file__).resolve().parent.parent
URL = f"https://github.com/{ORG}/{REPO}"
CLONE_URL = f"{URL}.git"
#: Markdown files whose repository links follow the setting (the chapters and student copies are stamped by
#: tools/stamp_headers.py and tools/make_student_copies.py, book/_config.yml is written by tools/make_book.py).
LINK_FILES = ("README.md", "CONTRIBUTING.md", "data/README.md", "students/README.md", "book/*.md")
#: Notebooks made from the chapters by the generators below, whose links --check reads too.
GENERATED_NOTEBOOKS = ("students/*.ipynb", "classroom/**/*.ipynb")
#: The tools that write links from this setting, run in this order after --set (those present).
GENERATORS = ("stamp_headers.py", "make_student_copies.py", "make_book.py", "make_assignments.py")

_NAME = r"[A-Za-z0-9_.-]+"
_REF = r"[A-Za-z0-9_.-]+"
#: Every kind of link to the course's repository, each with the groups org, repo and (where it has one) ref.
LINK_PATTERNS = (
    re.compile(rf"colab\.research\.google\.com/github/(?P<org>{_NAME})/(?P<repo>{_NAME})/blob/(?P<ref>{_REF})/"),
    re.compile(rf"mybinder\.org/v2/gh/(?P<org>{_NAME})/(?P<repo>{_NAME})/(?P<ref>{_REF})"),
    re.compile(rf"kaggle\.com/kernels/welcome\?src=https://github\.com/(?P<org>{_NAME})/(?P<repo>{_NAME})/blob/"
               rf"(?P<ref>{_REF})/"),
    re.compile(rf"git clone (?:[^\n]*?--branch (?P<ref>{_REF}) )?[^\n]*?https://github\.com/(?P<org>{_NAME})/"
               rf"(?P<repo>{_NAME}?)\.git"),
)


def repo_url() -> str:
    return f"https://github.com/{ORG}/{REPO}"


def colab_url(path: str) -> str:
    """Colab link for a notebook at ``path`` relative to the repository root (e.g. 'notebooks/05_training.ipynb')."""
    return f"https://colab.research.google.com/github/{ORG}/{REPO}/blob/{REF}/{path}"


def kaggle_url(path: str) -> str:
    """Kaggle's import link: it opens the notebook at ``path`` (relative to the repository root) in a new Kaggle
    notebook. Its setup cell then needs Internet switched on in the notebook's settings (phone-verified accounts)."""
    return f"https://kaggle.com/kernels/welcome?src=https://github.com/{ORG}/{REPO}/blob/{REF}/{path}"


def binder_url(path: str) -> str:
    """Binder link that opens ``path`` (relative to the repository root) in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{ORG}/{REPO}/{REF}?labpath={path.replace('/', '%2F')}"


def badge_lines(path: str) -> list[str]:
    """The badge lines of a title cell (Colab, Kaggle, Binder), for the notebook at ``path``."""
    return [
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})",
        f"[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]({kaggle_url(path)})",
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(path)})",
    ]


def clone_command() -> str:
    """The setup cell's clone, as a shell command: a shallow copy of ``REF``."""
    return f"git clone --quiet --depth 1 --branch {REF} https://github.com/{ORG}/{REPO}.git"


def clone_argv() -> list[str]:
    """The same clone as the argument list the setup cell passes to ``subprocess.run``."""
    return clone_command().split()


def _placeholder(match: re.Match) -> bool:
    """A link written for the reader to fill in (``.../github/ORG/REPO/blob/REF/...``), not a link."""
    return (match.group("org"), match.group("repo")) == ("ORG", "REPO")


def stale_links(text: str) -> list[str]:
    """The repository links in ``text`` that do not name ``ORG/REPO`` (and ``REF`` where the link has a ref)."""
    stale = []
    for pattern in LINK_PATTERNS:
        for match in pattern.finditer(text):
            ref = match.group("ref")
            if _placeholder(match):
                continue
            if (match.group("org"), match.group("repo")) != (ORG, REPO) or (ref is not None and ref != REF):
                stale.append(match.group(0))
    return stale


def repoint(text: str) -> str:
    """``text`` with every repository link re-pointed to ``ORG/REPO`` at ``REF`` (paths inside it kept)."""
    def follow(match: re.Match) -> str:
        if _placeholder(match):
            return match.group(0)
        found, start = match.group(0), match.start(0)
        groups = [g for g in ("org", "repo", "ref") if match.group(g) is not None]
        for group in sorted(groups, key=match.start, reverse=True):  # right to left: the offsets hold
            a, b = match.start(group) - start, match.end(group) - start
            found = found[:a] + {"org": ORG, "repo": REPO, "ref": REF}[group] + found[b:]
        return found
    for pattern in LINK_PATTERNS:
        text = pattern.sub(follow, text)
    return text


def link_files(root: Path = ROOT) -> list[Path]:
    return sorted({p for pattern in LINK_FILES for p in root.glob(pattern) if p.is_file()})


def remote_mismatch(root: Path = ROOT) -> str | None:
    """A line if the git remote ``origin`` is a GitHub repository other than ``ORG/REPO`` (a fork that has not
    re-pointed its links), else None (no git, no origin, or not GitHub)."""
    try:
        url = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(rf"github\.com[:/](?P<org>{_NAME})/(?P<repo>{_NAME}?)(?:\.git)?/?$", url)
    if found and (found["org"].lower(), found["repo"].lower()) != (ORG.lower(), REPO.lower()):
        return (f"git remote origin is {found['org']}/{found['repo']} but tools/course_repo.py names {ORG}/{REPO}: "
                f"run `python tools/course_repo.py --set {found['org']}/{found['repo']}@{REF}`")
    return None


def check(root: Path = ROOT) -> list[str]:
    """Every problem with the links, one line each: stale links in the Markdown files, chapters and student
    copies whose stamps are not current, and a mismatched origin remote."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import stamp_headers
    problems = [f"{path.relative_to(root)}: {link}" for path in link_files(root)
                for link in stale_links(path.read_text(encoding="utf-8"))]
    problems += [f"{path.relative_to(root)}: links or setup cell not current (run `python tools/course_repo.py`)"
                 for path in stamp_headers.plan(root / "notebooks")]
    for pattern in GENERATED_NOTEBOOKS:
        for path in sorted(root.glob(pattern)):
            problems += [f"{path.relative_to(root)}: {link}" for link in stale_links(path.read_text(encoding="utf-8"))]
    mismatch = remote_mismatch(root)
    return problems + ([mismatch] if mismatch else [])


def set_names(spec: str, this_file: Path = Path(__file__)) -> None:
    """Rewrite ORG, REPO (and REF) in this file from ``spec`` = 'org/repo' or 'org/repo@ref'."""
    global ORG, REPO, REF, URL, CLONE_URL
    found = re.fullmatch(rf"(?P<org>{_NAME})/(?P<repo>{_NAME}?)(?:@(?P<ref>{_REF}))?", spec.strip())
    if not found:
        raise SystemExit(f"--set {spec!r}: expected ORG/REPO or ORG/REPO@REF (e.g. myschool/fer-course@main)")
    ORG, REPO, REF = found["org"], found["repo"], found["ref"] or REF
    URL, CLONE_URL = repo_url(), f"{repo_url()}.git"
    text = this_file.read_text(encoding="utf-8")
    for name, value in (("ORG", ORG), ("REPO", REPO), ("REF", REF)):
        text = re.sub(rf'^{name} = "[^"]*"', f'{name} = "{value}"', text, count=1, flags=re.M)
    this_file.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", metavar="ORG/REPO[@REF]", help="name another repository (and ref) first")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 listing every stale link")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            return 1
        print(f"every link follows {ORG}/{REPO} @ {REF}")
        return 0
    if args.set:
        set_names(args.set)
    for path in link_files():
        text = path.read_text(encoding="utf-8")
        if repoint(text) != text:
            path.write_text(repoint(text), encoding="utf-8")
            print(f"re-pointed {path.relative_to(ROOT)}")
    tools = Path(__file__).resolve().parent
    for tool in GENERATORS:
        if (tools / tool).exists():
            subprocess.run([sys.executable, str(tools / tool)], check=True)
    print(f"every link now follows {ORG}/{REPO} @ {REF}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
