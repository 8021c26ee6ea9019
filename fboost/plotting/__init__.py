"""One matplotlib figure per ``fboost.analysis`` measurement.

Every function takes the DataFrame its analysis returns (or several concatenated, for one
curve per model or configuration) and returns a ``matplotlib.figure.Figure`` built
without pyplot, so it works under any backend, Agg included, and never opens a window:
save it with ``figure.savefig(path)``.

========================================  ============================================
analysis                                  figure
========================================  ============================================
``functional_alignment``                  ``plot_functional_alignment``
``edges``                                 ``plot_edges``
``lesion_study``                          ``plot_lesion_study``
``gradient_norms``                        ``plot_gradient_norms``
``path_length_distribution``,             ``plot_path_lengths``
``gradient_by_path_length``
``skip_gradient_demo``                    ``plot_skip_gradient``
``reorder_study``                         ``plot_reorder_study``
learned ``stage_weights_`` over depth     ``plot_stage_weights``
========================================  ============================================
"""

from ._joint import plot_reorder_study, plot_stage_weights
from ._network import plot_gradient_norms, plot_path_lengths, plot_skip_gradient
from ._stages import plot_edges, plot_functional_alignment, plot_lesion_study

__all__ = [
    "plot_functional_alignment",
    "plot_edges",
    "plot_lesion_study",
    "plot_gradient_norms",
    "plot_path_lengths",
    "plot_skip_gradient",
    "plot_reorder_study",
    "plot_stage_weights",
]
