"""mkdocs hooks: the pages that are generated from the code and the results, not written by hand.

- **API reference** (``api/``): one page per public module of fboost, that is every
  ``fboost.<name>`` not starting with ``_`` whose ``__all__`` is not empty, each documenting
  the names of its ``__all__`` (under their shortest public path: ``fboost.X`` when the package
  re-exports ``X``). A new module or a new name in an ``__all__`` appears with no change here;
  ``MODULE_ORDER`` only sorts the pages (modules it does not name follow, alphabetically).
  Classes show their own public methods and those they inherit from fboost's bases; not the
  ones of torch's ``nn.Module`` or scikit-learn's ``BaseEstimator`` (``get_params``,
  ``set_params`` and ``score`` are scikit-learn's own, and the index page says so).
- **Gallery** (``gallery.md``): every figure the tutorials show, each linking to the section of
  its tutorial.
- **Results** (``results.md``): first the claims of `experiments._record`, each a row with
  fboost's number and spread, the published number and whether it held, read from the results
  of record in ``docs/results/`` (or, when those runs are missing, which runs are missing);
  then the studies' tables and figures, read from ``docs/results/`` when it holds finished runs,
  else from ``results/`` (what ``make experiments`` writes), saying which folder and which sizes
  the numbers come from.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from markdown.extensions.toc import slugify
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

MODULE_ORDER = [
    "fboost.trees",
    "fboost.function_space",
    "fboost.resnet",
    "fboost.boostresnet",
    "fboost.neural_boosting",
    "fboost.resfgb",
    "fboost.soft_boosting",
    "fboost.io",
    "fboost.base",
    "fboost.additive",
    "fboost.losses",
    "fboost.analysis",
    "fboost.plotting",
    "fboost.datasets",
    "fboost.nn",
]
API_NAV = "API reference"


# ----------------------------------------------------------------------------- API reference


def public_modules() -> list[ModuleType]:
    """fboost's public modules with a non-empty ``__all__``, in page order."""
    import fboost

    found = {}
    for info in pkgutil.iter_modules(fboost.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"fboost.{info.name}")
        if getattr(module, "__all__", None):
            found[module.__name__] = module
    first = [found[name] for name in MODULE_ORDER if name in found]
    return first + [found[name] for name in sorted(found) if name not in MODULE_ORDER]


def public_path(module: ModuleType, name: str) -> str:
    """``fboost.name`` when the package re-exports the same object, else ``module.name``."""
    import fboost

    obj = getattr(module, name)
    if name in fboost.__all__ and getattr(fboost, name, None) is obj:
        return f"fboost.{name}"
    return f"{module.__name__}.{name}"


def _defined_in_fboost(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "fboost"


def inherited_members(cls: type) -> list[str]:
    """Public attributes ``cls`` inherits from fboost's own bases."""
    own = set(vars(cls))
    names: list[str] = []
    for base in cls.__mro__[1:]:
        if not _defined_in_fboost(base):
            continue
        for name in vars(base):
            if not (name.startswith("_") or name in own or name in names):
                names.append(name)
    return names


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def api_page_uri(module: ModuleType) -> str:
    return f"api/{module.__name__}.md"


def api_module_page(module: ModuleType) -> str:
    lines = [
        f"# `{module.__name__}`\n",
        f"::: {module.__name__}\n    options:\n      members: false\n"
        "      show_root_heading: false\n",
    ]
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            lines.append(_alias_entry(module, name))
            continue
        options = {}
        if inspect.isclass(obj):
            if inherited_members(obj):
                options["inherited_members"] = json.dumps(inherited_members(obj))
            if getattr(obj, "_is_protocol", False):  # typing's __init__ cannot be resolved
                options["merge_init_into_class"] = "false"
        if options:
            options_text = "".join(f"      {k}: {v}\n" for k, v in options.items())
            lines.append(f"::: {public_path(module, name)}\n    options:\n{options_text}")
        else:
            lines.append(f"::: {public_path(module, name)}\n")
    return "\n".join(lines)


def _alias_entry(module: ModuleType, name: str) -> str:
    """A type alias or constant: its assignment in the source and the comment above it."""
    path = public_path(module, name)
    source = inspect.getsource(module).splitlines()
    at = next((i for i, line in enumerate(source) if line.startswith(f"{name} = ")), None)
    if at is None:
        return f"## `{name}` {{#{path}}}\n\n`{path} = {getattr(module, name)!r}`\n"
    comment = []
    for line in reversed(source[:at]):
        if not line.startswith("#"):
            break
        comment.insert(0, line.lstrip("#").lstrip(":").strip())
    text = " ".join(comment)
    return f"## `{name}` {{#{path}}}\n\n```python\n{source[at]}\n```\n\n{text}\n"


def api_index_page(modules: list[ModuleType]) -> str:
    lines = [
        "# API reference\n",
        "Every public name of fboost, by module; the package itself re-exports the estimators,",
        "the additive model and the losses (`from fboost import TreeBoostingRegressor`).",
        "Every estimator is a scikit-learn estimator: besides the methods shown on its page it has",
        "scikit-learn's `get_params`, `set_params` and `score` (accuracy for classifiers, R^2 for",
        "regressors), and works with `clone`, pipelines and grid search.\n",
    ]
    for module in modules:
        page = f"{module.__name__}.md"
        lines.append(f"## [`{module.__name__}`]({page})\n")
        lines.append(_summary(module) + "\n")
        lines.append("| name | what it is |\n|---|---|")
        for name in module.__all__:
            path = public_path(module, name)
            obj = getattr(module, name)
            summary = _summary(obj) if inspect.isclass(obj) or inspect.isroutine(obj) else ""
            summary = summary.replace("|", "\\|")
            lines.append(f"| [`{path}`]({page}#{path}) | {summary} |")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- gallery

FIGURE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\(\.\./img/(?P<file>[\w.-]+\.png)\)", flags=re.M)
HEADING = re.compile(r"^(#{1,6}) (.+)$", flags=re.M)


def tutorial_figures(path: Path) -> list[dict[str, str]]:
    """The figures a tutorial shows: file, caption, and the heading of the section they are in."""
    text = path.read_text()
    title = HEADING.search(text)
    figures = []
    for match in FIGURE.finditer(text):
        headings = [h for h in HEADING.finditer(text, 0, match.start()) if h[1] == "##"]
        section = headings[-1][2] if headings else ""
        figures.append(
            {
                "file": match["file"],
                "alt": match["alt"],
                "tutorial": title[2] if title else path.stem,
                "section": section,
                "anchor": slugify(section.replace("`", ""), "-") if section else "",
            }
        )
    return figures


def gallery_page(nav_titles: dict[str, str]) -> str:
    lines = [
        "# Gallery\n",
        "Every figure the tutorials make (the run that builds the site draws them); each links",
        "to the section of its tutorial that explains it.\n",
    ]
    for path in sorted((DOCS / "tutorials").glob("*.md")):
        uri = f"tutorials/{path.name}"
        figures = tutorial_figures(path)
        if not figures:
            continue
        title = nav_titles.get(uri, figures[0]["tutorial"])
        lines.append(f"## [{title}]({uri})\n")
        lines.append('<div class="fb-gallery" markdown>\n')
        for fig in figures:
            target = f"{uri}#{fig['anchor']}" if fig["anchor"] else uri
            lines.append(
                f'<figure markdown="span">\n[![{fig["alt"]}](img/{fig["file"]})]({target})\n'
                f"<figcaption>{fig['alt']}</figcaption>\n</figure>\n"
            )
        lines.append("</div>\n")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- results


def finished_runs(root: Path) -> list[Path]:
    """``<root>/<study>/<run>/`` folders holding a finished run (a DONE marker and a report)."""
    from experiments._runner import DONE, REPORT

    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*/*/{DONE}") if (p.parent / REPORT).exists())


def results_source() -> tuple[Path | None, list[Path]]:
    """The results of record when there are any, else ``results/``; with their finished runs."""
    for root in (DOCS / "results", ROOT / "results"):
        runs = finished_runs(root)
        if runs:
            return root, runs
    return None, []


def claims_section(record: Path) -> str:
    """The claims of `experiments._record` read from the results of record at ``record``."""
    from experiments import _record

    results = _record.evaluate(record)
    lines = ["## Claims\n"]
    missing = _record.missing_runs(record)
    if len(missing) == len({f"{c.study}/{c.config}" for c in _record.CLAIMS}):
        lines.append(
            "The results of record have not been run yet: `make results` runs every study at "
            f"its `{_record.CONFIG}` size into `docs/results/`, and this table then gives "
            "fboost's numbers and whether each claim held. Missing runs: "
            + ", ".join(f"`{m}`" for m in missing)
            + ".\n"
        )
    else:
        held = sum(1 for _, outcome, _ in results if outcome is not None and outcome.held)
        lines.append(
            f"From the results of record (`docs/results/`, size `{_record.CONFIG}`): {held} of "
            f"{len(results)} claims held. Each rule is computed from the per-seed numbers of "
            "the run's `report.json` (`experiments/_record.py`); the rules and their inputs are "
            "in `docs/results/CLAIMS.md`."
            + (
                " Runs still missing: " + ", ".join(f"`{m}`" for m in missing) + "."
                if missing
                else ""
            )
            + "\n"
        )
    lines.append(
        _record.claims_table(results, link=lambda c: f"results/{c.study}/{c.config}/{c.figure}")
    )
    return "\n".join(lines)


def results_page(root: Path | None, runs: list[Path], record: Path | None = None) -> str:
    from experiments._runner import REPORT
    from experiments._summary import markdown_table

    lines = ["# Results\n", claims_section(DOCS / "results" if record is None else record)]
    if root is None:
        lines.append(
            "No finished study was found when this site was built: neither `docs/results/` "
            "(the results of record) nor `results/` (what `make experiments` writes) holds a "
            "finished run. Run `make experiments` (every study at its quick size), then "
            "`make docs-check` or `make docs`, and this page shows their tables and figures.\n"
        )
        return "\n".join(lines)
    sizes = sorted({run.name for run in runs})
    record = root == DOCS / "results"
    where = (
        "the results of record, `docs/results/`"
        if record
        else "`results/`, written by `make experiments` on the machine that built this site"
    )
    lines.append(
        f"These numbers come from {where}: {len(runs)} finished run(s) at size "
        f"**{', '.join(sizes)}**, each a `<study>/<size>/` folder with its `report.json`. "
        + (
            ""
            if record
            else "The smoke and quick sizes are small: a signal, not a benchmark; "
            "`make experiments-full` runs the full size, and the results of record (in "
            "`docs/results/`, when they exist) replace these. "
        )
        + "Each section gives the run's seeds, wall time and start, its table and its figures.\n"
    )
    for study in sorted({run.parent.name for run in runs}):
        lines.append(f"## {study}\n")
        for run in (r for r in runs if r.parent.name == study):
            report = json.loads((run / REPORT).read_text())
            config = report.get("config", {})
            wall = report.get("wall_time_s", float("nan"))
            lines.append(
                f"### size `{run.name}`\n\nseeds {config.get('seeds', '?')}, {wall:.0f} s, "
                f"started {report.get('started', '?')}\n"
            )
            lines.append(markdown_table(report.get("table", [])))
            for figure in report.get("figures", []):
                if (run / figure).exists():
                    lines.append(f"![{study}: {figure}](results/{study}/{run.name}/{figure})\n")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- mkdocs events


def _nav_titles(nav: list[Any]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for item in nav:
        if isinstance(item, dict):
            for title, value in item.items():
                if isinstance(value, str):
                    titles[value] = title
                elif isinstance(value, list):
                    titles.update(_nav_titles(value))
    return titles


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Point the nav's API reference entry at the generated pages."""
    if str(ROOT) not in sys.path:  # make fboost and experiments importable from this checkout
        sys.path.insert(0, str(ROOT))
    pages = [{"Overview": "api/index.md"}]
    pages += [{module.__name__: api_page_uri(module)} for module in public_modules()]
    for item in config["nav"]:
        if isinstance(item, dict) and API_NAV in item:
            item[API_NAV] = pages
    return config


def on_post_template(output: str, template_name: str, config: MkDocsConfig) -> str:
    """The 404 page's links relative to the site's root, so that they work opened from disk.

    mkdocs writes them absolute (``/index.html``), which from disk points at the file system's
    root. Served over HTTP for a missing deep URL, relative links would resolve against that
    URL instead: there the page first sets its base to the root of ``site_url``.
    """
    if template_name != "404.html":
        return output
    root = urlsplit(config["site_url"] or "/").path or "/"
    output = re.sub(rf'(href|src)="{re.escape(root)}', r'\1="', output)
    output = output.replace('href=""', 'href="index.html"')
    # the theme's own config: the base of its links and the search worker's path
    output = output.replace(f'"base": "{root}"', '"base": "."', 1)
    output = re.sub(rf'"search": "{re.escape(root)}', '"search": "', output, count=1)
    base = (
        f'<script>if (location.protocol !== "file:") '
        f"document.write('<base href=\"{root}\">');</script>"
    )
    return output.replace("<head>", "<head>\n" + base, 1)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    modules = public_modules()
    generated = {"api/index.md": api_index_page(modules)}
    generated |= {api_page_uri(module): api_module_page(module) for module in modules}
    generated["gallery.md"] = gallery_page(_nav_titles(config["nav"]))
    root, runs = results_source()
    generated["results.md"] = results_page(root, runs)
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    if root is not None and root != DOCS / "results":  # docs/results/ is in the site already
        from experiments._runner import REPORT

        for run in runs:
            report = json.loads((run / REPORT).read_text())
            for figure in report.get("figures", []):
                if (run / figure).exists():
                    uri = f"results/{run.parent.name}/{run.name}/{figure}"
                    files.append(File.generated(config, uri, abs_src_path=str(run / figure)))
    return files
