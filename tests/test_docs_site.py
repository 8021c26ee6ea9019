"""The documentation site: generated pages (API reference, gallery, results), docstrings fit for
the reference, and the built site opened in headless Chromium when one is installed."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fboost

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
import _browser_check  # noqa: E402
import _hooks  # noqa: E402
from _griffe_roles import markdown_roles  # noqa: E402

ESTIMATORS = [
    getattr(fboost, name)
    for name in fboost.__all__
    if inspect.isclass(getattr(fboost, name)) and hasattr(getattr(fboost, name), "get_params")
]


def test_api_pages_document_every_public_name():
    modules = _hooks.public_modules()
    pages = {m.__name__: _hooks.api_module_page(m) for m in modules}
    assert "fboost.trees" in pages and "fboost.analysis" in pages
    documented = {
        id(getattr(m, name)) for m in modules for name in m.__all__ if name in pages[m.__name__]
    }
    for name in fboost.__all__:
        if name != "__version__":
            assert id(getattr(fboost, name)) in documented, f"fboost.{name} has no API entry"
    # the re-exported estimators are documented under their short public path
    assert "::: fboost.TreeBoostingRegressor" in pages["fboost.trees"]
    assert "::: fboost.analysis.gradient_norms" in pages["fboost.analysis"]
    index = _hooks.api_index_page(modules)
    assert "[`fboost.TreeBoostingRegressor`](fboost.trees.md#fboost.TreeBoostingRegressor)" in index


def test_inherited_members_come_from_fboost_bases_only():
    members = _hooks.inherited_members(fboost.ResNetClassifier)
    for name in ("fit", "predict", "stage_contributions", "drop_stages", "stage_features"):
        assert name in members or name in vars(fboost.ResNetClassifier)
    assert "set_params" not in members  # scikit-learn's, described once on the index page
    from fboost.nn import TabularResNet

    assert "zero_grad" not in _hooks.inherited_members(TabularResNet)  # torch's


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_has_its_own_docstring_entry_with_its_default(estimator):
    """numpydoc: every constructor parameter has a ``name : type, default=value`` entry whose
    default is the code's (a line grouping names must hold for each of them)."""
    doc = inspect.getdoc(estimator) or ""
    section = doc.split("Parameters\n----------\n", 1)[1].split("\n\n", 1)[0]
    entries = {  # "a, b : float, default=0.0" documents both, with one type and default
        name: rest
        for names, rest in re.findall(r"^(\S[^\n]*?) : ([^\n]*)$", section, flags=re.M)
        for name in names.split(", ")
    }
    for name, parameter in inspect.signature(estimator).parameters.items():
        assert name in entries, f"{estimator.__name__}: parameter {name} is not documented"
        match = re.search(r"default=(.+)$", entries[name])
        assert match, f"{estimator.__name__}.{name}: no default in {entries[name]!r}"
        written = match[1].strip()
        default = parameter.default
        try:
            value = eval(written, {"__builtins__": {}}, {"None": None})  # noqa: S307
        except Exception:  # a default written in words ("the number of features", ...)
            continue
        assert value == default or (value is None and default is None), (
            f"{estimator.__name__}.{name}: docstring says default={written}, code has {default!r}"
        )


def test_sphinx_roles_become_markdown():
    text = (
        "Works with :class:`~sklearn.pipeline.Pipeline` and :func:`numpy.exp`; the "
        ":math:`R^2` score; see :ref:`User Guide <metadata_routing>`.\n"
        "    .. versionadded:: 1.3\n"
    )
    out = markdown_roles(text)
    assert "`Pipeline`" in out and "`numpy.exp`" in out and "$R^2$" in out
    assert "User Guide" in out and ":ref:" not in out and ":class:" not in out
    assert "*Added in version 1.3.*" in out


def test_gallery_shows_every_tutorial_figure_linking_to_its_section():
    page = _hooks.gallery_page({"tutorials/quickstart.md": "Quickstart"})
    for path in sorted((DOCS / "tutorials").glob("*.md")):
        for name in re.findall(r"\(\.\./img/([\w.-]+\.png)\)", path.read_text()):
            assert f"(img/{name})" in page, f"{name} is missing from the gallery"
    assert "(tutorials/quickstart.md#staged-predictions-are-partial-sums)" in page
    assert "## [Quickstart](tutorials/quickstart.md)" in page


def _finished_run(root: Path, study: str, size: str, table: list[dict]) -> Path:
    run = root / study / size
    run.mkdir(parents=True)
    (run / "curve.png").write_bytes(b"png")
    report = {
        "study": study,
        "config": {"name": size, "seeds": [0, 1]},
        "started": "2026-01-01T00:00:00Z",
        "wall_time_s": 12.0,
        "table": table,
        "figures": ["curve.png"],
    }
    (run / "report.json").write_text(json.dumps(report))
    (run / "DONE").write_text("2026-01-01T00:00:00Z\n")
    return run


def test_results_page_says_where_its_numbers_come_from(tmp_path):
    assert "No finished study" in _hooks.results_page(None, [])
    _finished_run(tmp_path, "lesion", "quick", [{"model": "resnet", "score": 0.9731}])
    (tmp_path / "paths" / "quick").mkdir(parents=True)  # unfinished: no DONE, not shown
    runs = _hooks.finished_runs(tmp_path)
    assert [r.parent.name for r in runs] == ["lesion"]
    page = _hooks.results_page(tmp_path, runs)
    assert "size **quick**" in page and "make experiments" in page
    assert "| resnet | 0.9731 |" in page
    assert "![lesion: curve.png](results/lesion/quick/curve.png)" in page
    assert "seeds [0, 1], 12 s" in page


def test_404_links_are_relative_to_the_site_root():
    html = (
        '<head><a href="/index.html">x</a><a href="/">home</a><script src="/a.js"></script>'
        '<script id="__config">{"base": "/", "search": "/assets/search.js"}</script>'
    )
    out = _hooks.on_post_template(html, "404.html", {"site_url": "https://example.org/"})
    assert 'href="index.html"' in out and 'src="a.js"' in out and 'href="/index' not in out
    assert '"base": "."' in out and '"search": "assets/search.js"' in out
    assert "<base href" in out and "file:" in out  # the base is only set when served over HTTP
    assert _hooks.on_post_template(html, "main.html", {"site_url": "/"}) == html


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built as ``make docs-check`` builds it: ``mkdocs build --strict``."""
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(out)],
        cwd=DOCS.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_site_builds_strictly_without_dunders_or_raw_roles(site):
    assert (site / "404.html").exists() and (site / "search" / "search_index.js").exists()
    for page in site.rglob("*.html"):
        text = page.read_text()
        for word in (
            "__doc__",
            "__annotations__",
            "__weakref__",
            ":class:",
            'id="fboost.losses.expit"',
        ):
            assert word not in text, f"{page.relative_to(site)} contains {word}"
    api = (site / "api" / "fboost.trees.html").read_text()
    for method in ("fit", "predict", "staged_predict", "stage_contributions", "drop_stages"):
        assert f'id="fboost.TreeBoostingClassifier.{method}"' in api
    assert "1e-3" in api or "0.001" in api  # min_child_weight's own default, in its own row
    assert "http://" not in (site / "index.html").read_text().split("<body", 1)[0]


@pytest.mark.skipif(
    _browser_check.missing_browser() is not None, reason=str(_browser_check.missing_browser())
)
def test_every_page_in_headless_chromium(site):
    """What ``make docs-check`` runs: no console error, image, link or markup problem."""
    # a sample of pages, from disk and from a server (make docs-check opens all of them)
    only = ["index.html", "404.html", "api/fboost.trees.html", "tutorials/quickstart.html"]
    only += ["gallery.html", "results.html"]
    problems = _browser_check.check_site(site, screenshots=False, only=only)
    with _browser_check.serve(site) as base_url:
        problems += _browser_check.check_site(site, screenshots=False, base_url=base_url, only=only)
    assert not problems, "\n".join(problems)


def test_train_score_is_per_stage_or_per_epoch_as_the_docs_say():
    """README and home page: per stage for the stagewise estimators, per epoch for ResNet."""
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    stagewise = [
        fboost.TreeBoostingRegressor(n_stages=4, random_state=0),
        fboost.FunctionalBoostingRegressor(n_stages=3, random_state=0),
        fboost.BoostResNetRegressor(n_stages=2, d_block=8, epochs_per_stage=1, random_state=0),
        fboost.NeuralBoostingRegressor(n_stages=2, d_hidden=8, random_state=0),
    ]
    for model in stagewise:
        model.fit(X, y)
        assert model.train_score_.shape == (model.n_stages_,), type(model).__name__
    resnet = fboost.ResNetRegressor(n_stages=2, d_block=8, max_epochs=5, random_state=0)
    resnet.fit(X, y)
    assert resnet.train_score_.shape == (resnet.n_epochs_,) != (resnet.n_stages_,)
    # the home page: NeuralBoosting's default runs GrowNet's corrective step (the joint cell)
    assert fboost.NeuralBoostingRegressor().corrective_epochs == 1
