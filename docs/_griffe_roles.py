"""A Griffe extension: Sphinx roles in docstrings (scikit-learn's inherited ones) as markdown.

mkdocstrings renders docstrings as markdown, where ``:class:`~sklearn.pipeline.Pipeline``` would
show literally. This rewrites the roles before rendering: ``:math:`x``` becomes ``$x$`` (which
KaTeX renders), a cross-reference role becomes inline code of its target (``~`` keeping the last
name only), ``:ref:`text <label>``` its text, and ``.. versionadded::``-style directives a
sentence.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

MATH = re.compile(r":math:`([^`]+)`")
LABELLED = re.compile(r":(?:ref|doc|term):`([^`<]+?)\s*<[^`>]+>`")
PLAIN_REF = re.compile(r":(?:ref|doc|term):`([^`]+)`")
XREF = re.compile(r":(?:py:)?(?:class|func|meth|attr|obj|mod|data|exc|const):`(~?)([^`]+)`")
DIRECTIVE = re.compile(r"^(\s*)\.\. (versionadded|versionchanged|deprecated)::\s*(\S+)", re.M)
WORDS = {
    "versionadded": "Added in",
    "versionchanged": "Changed in",
    "deprecated": "Deprecated since",
}


def _xref(match: re.Match[str]) -> str:
    target = match[2].split(" <")[-1].rstrip(">") if "<" in match[2] else match[2]
    if match[1] == "~":
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def markdown_roles(text: str) -> str:
    text = MATH.sub(lambda m: f"${m[1]}$", text)
    text = LABELLED.sub(lambda m: m[1], text)
    text = PLAIN_REF.sub(lambda m: m[1], text)
    text = XREF.sub(_xref, text)
    return DIRECTIVE.sub(lambda m: f"{m[1]}*{WORDS[m[2]]} version {m[3]}.*", text)


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_roles(obj.docstring.value)
