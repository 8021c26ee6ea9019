"""fboost's studies: one module per study, run by ``python -m experiments <study>`` or make."""

STUDIES = (
    "compare_tabular",
    "compare_image",
    "gradient_flow",
    "lesion",
    "alignment",
    "paths",
    "depth",
)
