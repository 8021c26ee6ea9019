"""Open every page of the built site in headless Chromium and fail on what a reader would see.

``python docs/_browser_check.py [SITE_DIR]`` (default ``site/``; ``make docs-check`` builds it
first). Each page is loaded from disk (``file://``), as someone who opens ``site/index.html``
would, then again from a local web server, and fails the check on

- a message at level SEVERE in the browser console (a script error, a file that did not load);
- an image that did not load (``naturalWidth == 0``);
- an internal link whose file is not in the site, or whose ``#anchor`` is not on that page;
- text that shows the API reference went wrong: ``__doc__``, ``__annotations__``, or a Sphinx
  role left unrendered (``:class:``, ``:func:``, ``:meth:``, ``:math:``, ``:ref:``);
- math that KaTeX did not render (``\\(`` or ``\\[`` left in the text).

The search box is tried on the home page: typing a word must list results, from disk too.
A full-page screenshot of every page goes to ``SITE_DIR/_screenshots/<page>.png``.

Chromium and its driver are Debian's (``apt-get install chromium chromium-driver``), found at
``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (or ``$CHROMIUM``, ``$CHROMEDRIVER``);
Selenium is given both paths, so Selenium Manager never downloads a browser or a driver.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

FORBIDDEN = ("__doc__", "__annotations__", ":class:", ":func:", ":meth:", ":math:", ":ref:")
UNRENDERED_MATH = ("\\(", "\\[")


def browser_paths() -> tuple[str | None, str | None]:
    """Chromium's binary and its driver, or None where one is missing."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    driver = (
        os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    )
    return (
        chromium if Path(chromium).exists() else None,
        driver if Path(driver).exists() else None,
    )


def missing_browser() -> str | None:
    """Why the check cannot run here, or None when it can."""
    chromium, driver = browser_paths()
    if chromium is None or driver is None:
        return "no Chromium and chromedriver (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def make_driver():  # -> selenium.webdriver.Chrome
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--allow-file-access-from-files",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(driver)), options=options)


LINKS_JS = """
return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
"""
IMAGES_JS = """
return Array.from(document.images)
  .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src);
"""
IDS_JS = "return Array.from(document.querySelectorAll('[id]')).map(e => e.id);"


def _wait_for_images(driver, timeout: float = 5.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if driver.execute_script("return Array.from(document.images).every(i => i.complete);"):
            return
        time.sleep(0.1)


def check_site(
    site: Path,
    screenshots: bool = True,
    base_url: str | None = None,
    only: list[str] | None = None,
) -> list[str]:
    """Every problem found on the site's pages (empty when there is none).

    Pages load from disk, or from ``base_url`` (a server of ``site``) when given; ``only``
    limits the pages (names relative to ``site``); with ``screenshots``, a screenshot of each
    page goes to ``site/_screenshots/``.
    """
    site = site.resolve()
    shots = site / "_screenshots"
    if screenshots:
        shots.mkdir(parents=True, exist_ok=True)
    pages = sorted(p for p in site.rglob("*.html") if "_screenshots" not in p.parts)
    if only is not None:
        pages = [p for p in pages if p.relative_to(site).as_posix() in only]

    def url(page: Path) -> str:
        return base_url + page.relative_to(site).as_posix() if base_url else page.as_uri()

    problems: list[str] = []
    ids: dict[Path, set[str]] = {}
    links: dict[Path, list[str]] = {}
    driver = make_driver()
    try:
        for page in pages:
            name = page.relative_to(site).as_posix()
            started = time.time()
            driver.get(url(page))
            _wait_for_images(driver)
            for entry in driver.get_log("browser"):
                if entry["level"] == "SEVERE":
                    problems.append(f"{name}: console error: {entry['message']}")
            for src in driver.execute_script(IMAGES_JS):
                problems.append(f"{name}: image not loaded: {src}")
            text = driver.find_element("tag name", "body").text
            for word in FORBIDDEN:
                if word in text:
                    problems.append(f"{name}: page shows {word!r}")
            article = driver.find_elements("css selector", "article")
            article_text = article[0].text if article else ""
            for mark in UNRENDERED_MATH:
                if mark in article_text and not _inside_code(driver, mark):
                    problems.append(f"{name}: math left unrendered ({mark!r})")
            ids[page] = set(driver.execute_script(IDS_JS))
            links[page] = driver.execute_script(LINKS_JS)
            if screenshots:
                shot = shots / (name.removesuffix(".html").replace("/", "__") + ".png")
                _full_page_screenshot(driver, shot)
            if os.environ.get("DOCS_CHECK_VERBOSE"):
                print(f"{name}: {time.time() - started:.1f} s", file=sys.stderr)
        problems += _check_search(driver, url(site / "index.html"))
    finally:
        driver.quit()
    for page, hrefs in links.items():
        name = page.relative_to(site).as_posix()
        for href in hrefs:
            problem = _check_link(href, ids, site, base_url)
            if problem:
                problems.append(f"{name}: {problem}")
    return problems


def _inside_code(driver, mark: str) -> bool:
    """Whether every occurrence of ``mark`` in the article is inside code (where it belongs)."""
    script = """
    const article = document.querySelector('article');
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (node.textContent.includes(arguments[0]) && !node.parentElement.closest('code, pre')) {
        return false;
      }
    }
    return true;
    """
    return bool(driver.execute_script(script, mark))


def _check_link(
    href: str, ids: dict[Path, set[str]], site: Path, base_url: str | None
) -> str | None:
    parts = urlsplit(href)
    if base_url and href.startswith(base_url):
        target = site / unquote(parts.path).removeprefix(urlsplit(base_url).path)
    elif parts.scheme == "file":
        target = Path(unquote(parts.path))
    else:
        return None  # external links are not checked (the site must not need them)
    if target.is_dir():
        target = target / "index.html"
    if not target.exists():
        return f"broken link {href}"
    if parts.fragment and target in ids and unquote(parts.fragment) not in ids[target]:
        return f"link to a missing anchor {href}"
    return None


def _full_page_screenshot(driver, path: Path) -> None:
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);"
    )
    driver.set_window_size(1280, min(max(int(height), 900), 8000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)


def _check_search(driver, home: str) -> list[str]:
    """Type into the search box on the home page: results must appear (from disk too)."""
    from selenium.webdriver.common.by import By

    driver.get(home)
    box = driver.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()
    box.send_keys("telescoping")
    end = time.time() + 10
    while time.time() < end:
        if driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item"):
            return []
        time.sleep(0.2)
    meta = driver.find_elements(By.CSS_SELECTOR, ".md-search-result__meta")
    return [f"index.html: search for 'telescoping' listed nothing ({meta[0].text if meta else ''})"]


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` over HTTP on a free local port; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else Path("site")
    reason = missing_browser()
    if reason:
        print(f"docs-check: {reason}", file=sys.stderr)
        return 2
    if not (site / "index.html").exists():
        print(f"docs-check: no site in {site} (run mkdocs build)", file=sys.stderr)
        return 2
    problems = check_site(site)
    with serve(site) as base_url:  # the same pages from a web server
        problems += [f"(http) {p}" for p in check_site(site, screenshots=False, base_url=base_url)]
    pages = len([p for p in site.rglob("*.html") if "_screenshots" not in p.parts])
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"docs-check: {pages} pages from disk and from a web server, {len(problems)} problem(s); "
        f"screenshots in {site / '_screenshots'}",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
