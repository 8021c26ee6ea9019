"""fboost.save / fboost.load: exact round trips for every estimator, and files that would run
code are refused without running it."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.linear_model import Ridge

import fboost
from fboost import io as fio
from fboost._persist import UnsafeWeightsError, arrays_only, load_module_bytes, module_bytes

_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(60, 4))
Y = X[:, 0] + 0.1 * _RNG.normal(size=60)
Y2 = np.where(X[:, 1] > 0, "b", "a")
Y3 = np.array(["x", "y", "z"])[
    np.digitize(X[:, 0], [-0.4, 0.4])
]  # learnable: BoostResNet keeps stages
IMAGES = _RNG.normal(size=(40, 1, 6, 6))
Y_IMAGES = (IMAGES.mean(axis=(1, 2, 3)) > 0).astype(int)
_NN = {"n_stages": 2, "d_block": 8, "max_epochs": 2, "batch_size": 32, "random_state": 0}
_BR = {"n_stages": 2, "d_block": 8, "epochs_per_stage": 2, "batch_size": 32, "random_state": 0}
_NB = {"n_stages": 2, "d_hidden": 8, "epochs_per_stage": 2, "corrective_epochs": 1,
       "batch_size": 32, "random_state": 0}  # fmt: skip

CASES = {
    "trees-lightgbm-reg": (fboost.TreeBoostingRegressor(n_stages=5, random_state=0), X, Y),
    "trees-lightgbm-clf": (fboost.TreeBoostingClassifier(n_stages=5, random_state=0), X, Y3),
    "trees-sklearn-reg": (
        fboost.TreeBoostingRegressor(engine="sklearn", n_stages=5, random_state=0), X, Y),
    "trees-sklearn-clf": (
        fboost.TreeBoostingClassifier(engine="sklearn", n_stages=5, random_state=0), X, Y2),
    "functional-reg": (fboost.FunctionalBoostingRegressor(n_stages=5, random_state=0), X, Y),
    "functional-clf": (fboost.FunctionalBoostingClassifier(n_stages=5, random_state=0), X, Y3),
    "functional-ridge": (
        fboost.FunctionalBoostingRegressor(Ridge(alpha=1.0), n_stages=3, random_state=0), X, Y),
    "resnet-mlp-reg": (fboost.ResNetRegressor(**_NN), X, Y),
    "resnet-mlp-clf": (fboost.ResNetClassifier(**_NN), X, Y2),
    "resnet-cnn-clf": (fboost.ResNetClassifier(architecture="cnn", **_NN), IMAGES, Y_IMAGES),
    "boostresnet-reg": (fboost.BoostResNetRegressor(**_BR), X, Y),
    "boostresnet-clf": (fboost.BoostResNetClassifier(**_BR), X, Y3),
    "neural-boosting-reg": (fboost.NeuralBoostingRegressor(**_NB), X, Y),
    "neural-boosting-clf": (fboost.NeuralBoostingClassifier(**_NB), X, Y2),
}  # fmt: skip

_METHODS = ("predict", "predict_proba", "decision_function", "stage_contributions")


def assert_identical(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()  # bit for bit, NaN included


@pytest.fixture(scope="module")
def fitted():
    return {key: est.fit(x, y) for key, (est, x, y) in CASES.items()}


@pytest.mark.parametrize("key", list(CASES))
def test_round_trip_is_bitwise(fitted, key, tmp_path):
    model, x = fitted[key], CASES[key][1]
    loaded = fboost.load(fboost.save(model, tmp_path / "model.fboost"))
    assert type(loaded) is type(model)
    assert repr(loaded.get_params()) == repr(model.get_params())
    for method in _METHODS:
        if hasattr(model, method):
            assert_identical(getattr(loaded, method)(x), getattr(model, method)(x))
    for a, b in zip(loaded.staged_predict(x), model.staged_predict(x), strict=True):
        assert_identical(a, b)
    assert_identical(loaded.train_score_, model.train_score_)
    if hasattr(model, "classes_"):
        assert_identical(loaded.classes_, model.classes_)
    lesioned = loaded.drop_stages([1])
    assert_identical(lesioned.predict(x), model.drop_stages([1]).predict(x))


_ESTIMATORS = [
    getattr(fboost, name)
    for name in fboost.__all__
    if isinstance(getattr(fboost, name), type) and issubclass(getattr(fboost, name), BaseEstimator)
]
_SMALL = {"n_stages": 2, "max_epochs": 2, "epochs_per_stage": 2, "corrective_epochs": 1,
          "fine_tune_epochs": 0, "d_block": 8, "d_hidden": 8, "batch_size": 32,
          "random_state": 0}  # fmt: skip


@pytest.mark.parametrize(
    "cls", [c for c in _ESTIMATORS if c not in {type(e) for e, _, _ in CASES.values()}]
)
def test_estimators_added_later_round_trip_too(cls, tmp_path):
    """Any estimator exported by fboost and missing from CASES, built small from its params."""
    params = {k: v for k, v in _SMALL.items() if k in cls().get_params()}
    model = cls(**params).fit(X, Y2 if is_classifier(cls()) else Y)
    loaded = fboost.load(fboost.save(model, tmp_path / "model.fboost"))
    for method in _METHODS:
        if hasattr(model, method):
            assert_identical(getattr(loaded, method)(X), getattr(model, method)(X))


def test_every_estimator_class_is_exported_and_saved():
    assert len(_ESTIMATORS) >= 10
    assert {type(e) for e, _, _ in CASES.values()} <= set(_ESTIMATORS)


def test_unfitted_estimator_round_trips(tmp_path):
    model = fboost.ResNetClassifier(n_stages=3, dropout1=0.25)
    loaded = fboost.load(fboost.save(model, tmp_path / "m.fboost"))
    assert loaded.get_params() == model.get_params()


class _Payload:
    """Unpickling this creates ``marker``: the kind of thing a model file must never do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite(path, target, replace):
    """A copy of the model file at ``target`` with some members replaced."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, replace.get(name, src.read(name)))
    return target


@pytest.fixture
def saved(fitted, tmp_path):
    return fboost.save(fitted["resnet-mlp-reg"], tmp_path / "model.fboost")


def test_the_payload_is_real(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_a_pickle_file_is_refused_without_running_it(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "model.fboost"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(fio.UnsafeFileError, match="not an fboost model file.*never unpickles"):
        fboost.load(path)
    assert not marker.exists()


def test_pickled_weights_inside_the_file_are_refused(saved, tmp_path):
    marker = tmp_path / "pwned"
    description = json.loads(zipfile.ZipFile(saved).read("fboost.json"))
    blob = io.BytesIO()
    torch.save({"weight": _Payload(marker)}, blob)  # a torch file whose pickle makes the marker
    state = description["estimator"]["state"]["v"]["_module_state"]["v"]["state_dict"]
    evil = io.BytesIO()
    np.lib.format.write_array(evil, np.frombuffer(blob.getvalue(), dtype=np.uint8))
    bad = _rewrite(saved, tmp_path / "bad.fboost", {f"arrays/{state['a']}.npy": evil.getvalue()})
    with pytest.raises(fio.UnsafeFileError, match="never does"):
        fboost.load(bad)
    assert not marker.exists()


def test_an_object_array_is_refused(saved, tmp_path):
    marker = tmp_path / "pwned"
    evil = io.BytesIO()
    np.lib.format.write_array(evil, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    bad = _rewrite(saved, tmp_path / "bad.fboost", {"arrays/0.npy": evil.getvalue()})
    with pytest.raises(fio.UnsafeFileError, match="without unpickling"):
        fboost.load(bad)
    assert not marker.exists()


def test_an_untrusted_type_is_refused_before_import(saved, tmp_path):
    marker = tmp_path / "pwned"
    description = json.loads(zipfile.ZipFile(saved).read("fboost.json"))
    description["estimator"] = {"$": "object", "id": 0, "type": "builtins.open",
                                "call_args": [str(marker), "w"]}  # fmt: skip
    bad = _rewrite(saved, tmp_path / "bad.fboost", {"fboost.json": json.dumps(description)})
    with pytest.raises(fio.UnsafeFileError, match="'builtins.open', which is not trusted"):
        fboost.load(bad)
    assert not marker.exists()


def test_a_type_from_an_unknown_module_is_refused_before_import(saved, tmp_path):
    import sys

    description = json.loads(zipfile.ZipFile(saved).read("fboost.json"))
    description["estimator"] = {"$": "object", "id": 0, "type": "antigravity.Fly"}
    bad = _rewrite(saved, tmp_path / "bad.fboost", {"fboost.json": json.dumps(description)})
    with pytest.raises(fio.UnsafeFileError, match="not trusted"):
        fboost.load(bad)
    assert "antigravity" not in sys.modules  # importing it would open a web browser


@pytest.mark.parametrize("key", ["trees-lightgbm-clf", "trees-sklearn-reg", "resnet-cnn-clf"])
def test_the_file_is_json_and_plain_arrays(fitted, key, tmp_path):
    path = fboost.save(fitted[key], tmp_path / "m.fboost")
    with zipfile.ZipFile(path) as archive:
        text = archive.read("fboost.json").decode()
        for name in archive.namelist():
            if name != "fboost.json":
                with archive.open(name) as handle:  # raises on anything pickled
                    assert np.lib.format.read_array(handle, allow_pickle=False).dtype != object
    if key.startswith("trees-lightgbm"):
        assert "sklearn.tree" not in text and "\\nTree=0\\n" in text  # LightGBM's text model
    if key == "trees-sklearn-reg":
        assert "sklearn.tree._tree.Tree" in text
    if key.startswith("resnet"):
        assert '"_module_state"' in text


def _with_version(saved, tmp_path, **fields):
    description = json.loads(zipfile.ZipFile(saved).read("fboost.json"))
    description.update(fields)
    return _rewrite(saved, tmp_path / "other.fboost", {"fboost.json": json.dumps(description)})


def test_file_records_the_version_and_another_minor_is_a_clear_error(saved, tmp_path):
    description = json.loads(zipfile.ZipFile(saved).read("fboost.json"))
    assert description["fboost_version"] == fboost.__version__
    major, minor, *_ = fboost.__version__.split(".")
    other = f"{major}.{int(minor) + 1}.0"
    with pytest.raises(fio.IncompatibleFileError, match=rf"written by fboost {other}.*=={other}"):
        fboost.load(_with_version(saved, tmp_path, fboost_version=other))
    with pytest.raises(fio.IncompatibleFileError, match="format 99.*upgrade"):
        fboost.load(_with_version(saved, tmp_path, format_version=99))


class MyRidge(Ridge):
    """A learner type fboost does not know."""


def test_other_types_load_only_when_trusted(tmp_path):
    model = fboost.FunctionalBoostingRegressor(MyRidge(), n_stages=3, random_state=0).fit(X, Y)
    path = fboost.save(model, tmp_path / "m.fboost")
    with pytest.raises(fio.UnsafeFileError, match=r"MyRidge.*trusted=\["):
        fboost.load(path)
    loaded = fboost.load(path, trusted=[MyRidge])
    assert_identical(loaded.predict(X), model.predict(X))


def test_torch_modules_are_refused_at_save_with_the_remedy(tmp_path):
    with pytest.raises(TypeError, match="saved as state dicts"):
        fboost.save(torch.nn.Linear(2, 2), tmp_path / "m.fboost")
    assert not list(tmp_path.iterdir())


def test_weights_older_pickles_hold_still_load_but_not_through_fboost_load():
    module = torch.nn.Linear(3, 2)
    legacy = io.BytesIO()
    torch.save(module.state_dict(), legacy)
    copy = torch.nn.Linear(3, 2)
    load_module_bytes(copy, legacy.getvalue())
    assert torch.equal(copy.weight, module.weight)
    with arrays_only(), pytest.raises(UnsafeWeightsError):
        load_module_bytes(copy, legacy.getvalue())
    load_module_bytes(copy, module_bytes(module))  # the array format, under either rule
    assert torch.equal(copy.bias, module.bias)


def test_save_replaces_a_file_atomically(fitted, tmp_path):
    path = tmp_path / "m.fboost"
    fboost.save(fitted["trees-lightgbm-reg"], path)
    fboost.save(fitted["functional-reg"], path)
    assert type(fboost.load(path)) is fboost.FunctionalBoostingRegressor
    assert [p.name for p in tmp_path.iterdir()] == ["m.fboost"]


class Celsius:
    def __init__(self, value):
        self.value = value

    def __reduce__(self):  # rebuilt through a function: not saveable as it is
        return (_celsius, (self.value,))


def _celsius(value):
    return Celsius(value)


def test_register_type_gives_a_type_its_own_form(tmp_path, monkeypatch):
    monkeypatch.setattr(fio, "TRUSTED", set(fio.TRUSTED))
    monkeypatch.setattr(fio, "_CODECS", {})
    with pytest.raises(TypeError, match="register_type"):
        fboost.save({"t": Celsius(21.5)}, tmp_path / "m.fboost")
    fio.register_type(Celsius, encode=lambda c: c.value, decode=lambda cls, v: cls(v))
    loaded = fboost.load(fboost.save({"t": Celsius(21.5)}, tmp_path / "m.fboost"))
    assert isinstance(loaded["t"], Celsius) and loaded["t"].value == 21.5
