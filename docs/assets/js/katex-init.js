// Render the math that pymdownx.arithmatex marks (\( \) inline, \[ \] display) with the
// KaTeX served from this site; document$ re-runs it on every page mkdocs-material shows.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
});
