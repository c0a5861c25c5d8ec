"""Check the built book (``_build/html``, made by ``make book``) the way a reader meets it, then its files.

    python tools/check_book.py                      # browser checks + static checks; exit 1 with a list of problems
    python tools/check_book.py --static-only        # no browser: links, anchors and images only
    python tools/check_book.py --screenshot figures/book_chapter.png   # also a 1280x900 picture of chapter 5

1. **In a browser.** The site is served on 127.0.0.1 (``http.server`` in a thread) and every page of the table of
   contents (``book/_toc.yml``) is loaded in headless Chromium (``--dump-dom``). The rendered page must show its
   title (the ``# ...`` heading of its notebook or markdown file) as its ``<h1>``; a chapter page must also show
   the launch links (Colab and Binder, from ``tools/course_repo.py``), previous/next links, a search box, and as
   many figures as its notebook has image outputs.
2. **In the files.** Every ``.html`` page under ``_build/html`` (not the theme's fragments in ``_static/``) is
   parsed: every internal link (``href``, ``src``) must point at a file that exists, a link's ``#anchor`` into a
   page must exist in that page, and every ``<img>`` must exist (external images, such as the Colab badge, are
   counted but not fetched).

Chromium runs without network access to anything but the local server (``--disable-background-networking``
and friends; MathJax, which the pages load from a CDN, is not needed for the checks).
"""
from __future__ import annotations

import argparse
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_repo

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


class Page(HTMLParser):
    """What the checks need from one HTML document: links, images, ids, headings, and the text of the <h1>s."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()
        self.h1: list[str] = []
        self.classes: set[str] = set()
        self.inputs: list[dict] = []
        self._in_h1 = 0
        self._skip = 0  # inside a header link ("#" / "¶"), not part of the title text

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        self.classes.update((a.get("class") or "").split())
        if tag == "a" and a.get("href") is not None:
            self.links.append(a["href"])
        elif tag in ("link",) and a.get("href") and "stylesheet" in (a.get("rel") or ""):
            self.links.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.links.append(a["src"])
        elif tag == "img" and a.get("src") is not None:
            self.images.append(a["src"])
        elif tag == "input":
            self.inputs.append(a)
        if tag == "h1":
            self._in_h1 += 1
            self.h1.append("")
        elif self._in_h1 and tag == "a" and "headerlink" in (a.get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "h1" and self._in_h1:
            self._in_h1 -= 1
        elif tag == "a" and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if self._in_h1 and not self._skip:
            self.h1[-1] += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def _normal(text: str) -> str:
    """Heading text compared loosely: markdown emphasis and code marks dropped, Sphinx's smart quotes undone,
    whitespace collapsed."""
    text = re.sub(r"[*_`]", "", html.unescape(text))
    text = text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                                         "\u2013": "--", "\u2014": "---"}))
    text = re.sub(r"\$([^$]*)\$", r"\1", text)
    return " ".join(text.replace("#", " ").replace("¶", " ").split())



def static_problems(site: Path) -> tuple[list[str], dict[str, int]]:
    """Broken internal links and anchors, and missing images, in every HTML file under ``site``."""
    problems: list[str] = []
    stats = {"pages": 0, "internal links": 0, "anchors": 0, "images": 0, "external images": 0}
    pages = {p: parse(p.read_text(encoding="utf-8", errors="replace")) for p in sorted(site.rglob("*.html"))
             if p.relative_to(site).parts[0] not in ("_static", "_sources")}  # theme template fragments
    stats["pages"] = len(pages)
    for path, page in pages.items():
        where = path.relative_to(site).as_posix()
        for kind, urls in (("link", page.links), ("image", page.images)):
            for url in urls:
                parts = urlsplit(url)
                if parts.scheme in ("http", "https") or url.startswith("//"):
                    stats["external images"] += kind == "image"
                    continue
                if parts.scheme:  # mailto:, javascript:, data: ...
                    continue
                if not parts.path:  # '#anchor' in the same page
                    if parts.fragment and kind == "link":
                        stats["anchors"] += 1
                        if unquote(parts.fragment) not in page.ids:
                            problems.append(f"{where}: anchor #{parts.fragment} not in the page")
                    continue
                target = (path.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
                stats["images" if kind == "image" else "internal links"] += 1
                if not target.exists():
                    problems.append(f"{where}: {'missing image' if kind == 'image' else 'broken link'} {url}")
                elif parts.fragment and target in pages:
                    stats["anchors"] += 1
                    if unquote(parts.fragment) not in pages[target].ids:
                        problems.append(f"{where}: broken anchor {url}")
    return problems, stats


def toc_pages(toc_file: Path) -> list[str]:
    """Every file of the table of contents, root first ('book/intro', 'notebooks/01_cnn_theory', ...)."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    out = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                out.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return out


def source_facts(docname: str) -> tuple[str, int, bool]:
    """(title, number of image outputs, is a notebook) of a TOC entry, read from its source file."""
    nb_path = ROOT / f"{docname}.ipynb"
    if nb_path.exists():
        nb = nbformat.read(nb_path, as_version=4)
        title = next(line for line in nb.cells[0].source.split("\n") if line.startswith("# "))
        images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if any(k.startswith("image/") for k in o.get("data", {})))
        return title[2:], images, True
    text = (ROOT / f"{docname}.md").read_text(encoding="utf-8")
    title = next(line for line in text.split("\n") if line.startswith("# "))
    return title[2:], 0, False


def find_browser() -> str | None:
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


def chromium(browser: str, profile: str, *args: str, timeout: int = 90) -> subprocess.CompletedProcess:
    cmd = [browser, *CHROME_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def browser_problems(site: Path, browser: str, base: str, profile: str, docnames: list[str]) -> list[str]:
    problems = []
    for doc in docnames:
        title, n_images, notebook = source_facts(doc)
        run = chromium(browser, profile, "--dump-dom", f"{base}/{doc}.html")
        page = parse(run.stdout)
        if run.returncode != 0 or not run.stdout.strip():
            problems.append(f"{doc}.html: the browser rendered nothing (exit {run.returncode}): "
                            f"{run.stderr.strip()[-300:]}")
            continue
        if not page.h1 or _normal(page.h1[0]) != _normal(title):
            problems.append(f"{doc}.html: title {page.h1[0].strip() if page.h1 else '(no <h1>)'!r}, "
                            f"expected {title!r}")
        if not any(i.get("type") == "search" or i.get("name") == "q" for i in page.inputs):
            problems.append(f"{doc}.html: no search box")
        if doc != docnames[0] and "prev-next-area" not in page.classes:
            problems.append(f"{doc}.html: no previous/next links")
        if notebook:
            path = f"{doc}.ipynb"
            for want in (f"colab.research.google.com/github/{course_repo.ORG}/{course_repo.REPO}/blob/"
                         f"{course_repo.REF}/{path}",
                         f"mybinder.org/v2/gh/{course_repo.ORG}/{course_repo.REPO}/{course_repo.REF}"):
                if not any(want in html.unescape(link) for link in page.links):
                    problems.append(f"{doc}.html: no launch link to {want}")
            shown = sum(1 for src in page.images if "_images/" in src or src.startswith("data:image"))
            if shown < n_images:
                problems.append(f"{doc}.html: {shown} figures shown, the notebook has {n_images} image outputs")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=SITE, help="the built HTML (default: _build/html)")
    parser.add_argument("--toc", type=Path, default=ROOT / "book" / "_toc.yml")
    parser.add_argument("--static-only", action="store_true", help="skip the browser checks")
    parser.add_argument("--screenshot", type=Path, help="save a 1280x900 screenshot of --page here")
    parser.add_argument("--page", default="notebooks/05_training.html", help="the page to photograph")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").exists():
        print(f"no book at {args.site}: run `make book` first", file=sys.stderr)
        return 1
    docnames = toc_pages(args.toc)
    problems = [f"{doc}.html: in the table of contents but not built" for doc in docnames
                if not (args.site / f"{doc}.html").exists()]
    static, stats = static_problems(args.site)
    problems += static
    print("files: " + ", ".join(f"{v} {k}" for k, v in stats.items()))
    if not args.static_only:
        browser = find_browser()
        if browser is None:
            problems.append("no Chromium found (apt-get install chromium), or use --static-only")
        else:
            server, base = serve(args.site)
            with tempfile.TemporaryDirectory(prefix="check-book-") as profile:
                try:
                    problems += browser_problems(args.site, browser, base, profile, docnames)
                    if args.screenshot:
                        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                        shot = chromium(browser, profile, f"--screenshot={args.screenshot.resolve()}",
                                        "--window-size=1280,900", f"{base}/{args.page}")
                        if not args.screenshot.exists():
                            problems.append(f"screenshot failed: {shot.stderr.strip()[-300:]}")
                finally:
                    server.shutdown()
            print(f"browser: {len(docnames)} pages of the table of contents rendered in {Path(browser).name}")
    if problems:
        print(f"{len(problems)} problem(s) in the book:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("book OK")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
