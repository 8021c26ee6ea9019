"""Saving and loading fitted estimators in a format that never executes code on load.

``fboost.save(model, "model.fboost")`` writes one zip file: ``fboost.json`` describes the
estimator (its class, parameters and fitted attributes, as a tree of plain JSON values), and
``arrays/<n>.npy`` hold every array in NumPy's ``.npy`` format. ``fboost.load("model.fboost")``
reads it back with `json` and ``numpy.lib.format.read_array(..., allow_pickle=False)`` only, and
rebuilds objects solely of *trusted* types: fboost's own classes and a short list of others
(scikit-learn's trees and linear models, LightGBM's ``Booster``; see `TRUSTED`). Torch networks
are stored as their state dicts, one array per tensor; a LightGBM model as its text format; a
scikit-learn tree as its node arrays. The round trip is exact: predictions and
``stage_contributions`` of the loaded model equal the saved model's bit for bit.

>>> import numpy as np, tempfile, os, fboost
>>> X = np.arange(40.0).reshape(20, 2); y = X[:, 0] % 3
>>> model = fboost.TreeBoostingRegressor(n_stages=5, random_state=0).fit(X, y)
>>> path = os.path.join(tempfile.mkdtemp(), "model.fboost")
>>> _ = fboost.save(model, path)
>>> np.array_equal(fboost.load(path).predict(X), model.predict(X))
True

Compared with pickle (which also works, as for any scikit-learn estimator): ``pickle.load`` runs
whatever code the file names, so a model file from an untrusted source can take over the
machine; ``fboost.load`` refuses such a file (`UnsafeFileError`) and never imports a module that
is not trusted. An estimator holding an object of another type (your own learner in
``FunctionalBoostingRegressor(learner=...)``) is saved as well, and loads only when you pass that
type in ``trusted=[MyRegressor]``: trusting a type means letting the file set that object's
attributes.

The file records the fboost version that wrote it; a file from another fboost ``major.minor``
(or a newer file format) is an `IncompatibleFileError` naming both versions: load it with that
fboost version, or refit.
"""

from __future__ import annotations

import collections
import importlib
import io as _io
import json
import math
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ._persist import UnsafeWeightsError, arrays_only
from ._version import __version__

__all__ = [
    "save",
    "load",
    "register_type",
    "TRUSTED",
    "UnsafeFileError",
    "IncompatibleFileError",
    "FORMAT_VERSION",
]

FORMAT = "fboost-model"
FORMAT_VERSION = 1
_DESCRIPTION = "fboost.json"

#: types trusted by default besides fboost's own (any class defined in ``fboost.*``)
TRUSTED: set[str] = {
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "lightgbm.basic.Booster",
    "collections.OrderedDict",
}


class UnsafeFileError(ValueError):
    """The file is not an fboost model file, or would need executing code to be read."""


class IncompatibleFileError(ValueError):
    """The file was written by an fboost version (or file format) this one cannot read."""


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# -- custom codecs: types whose pickled form calls functions, so they get a form of their own ------
Encoder = Callable[[Any], Any]
Decoder = Callable[[type, Any], Any]
_CODECS: dict[str, tuple[Encoder, Decoder]] = {}


def register_type(
    cls: type | str, *, encode: Encoder | None = None, decode: Decoder | None = None
) -> None:
    """Trust ``cls`` in every `load`; optionally give it its own form in the file.

    Parameters
    ----------
    cls : type or str
        The class, or its ``"module.QualName"``.
    encode : callable, default=None
        ``encode(obj) -> state`` of plain values, arrays and other saveable objects. Without it,
        objects are saved like pickle does (``__reduce_ex__``), which works for classes built with
        ``copyreg.__newobj__`` or their own constructor.
    decode : callable, default=None
        ``decode(cls, state) -> obj``; required with ``encode``.
    """
    name = cls if isinstance(cls, str) else _name(cls)
    TRUSTED.add(name)
    if encode is not None:
        if decode is None:
            raise ValueError(f"register_type({name!r}): encode needs a decode")
        _CODECS[name] = (encode, decode)


def _loss_state(loss: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(loss).items() if k != "_kernel"}  # compiled, rebuilt on load


def _loss_from(cls: Any, state: dict[str, Any]) -> Any:
    loss = cls.__new__(cls)
    loss.__dict__.update(state)
    if hasattr(loss, "_make_kernel"):
        loss._kernel = loss._make_kernel()
    return loss


def _random_state_state(rs: np.random.RandomState) -> Any:
    return rs.get_state(legacy=False)


def _random_state_from(cls: type, state: dict[str, Any]) -> Any:
    if state.get("bit_generator") != "MT19937":
        raise UnsafeFileError(f"unsupported bit generator {state.get('bit_generator')!r}")
    rs = np.random.RandomState()
    rs.set_state(state)
    return rs


def _frame_state(frame: Any) -> dict[str, Any]:
    return {
        "columns": list(frame.columns),
        "dtypes": [str(t) for t in frame.dtypes],
        "data": [
            frame[c].to_numpy() if frame[c].dtype.kind in "biufcmM" else frame[c].tolist()
            for c in frame.columns
        ],  # fmt: skip
        "index": frame.index.to_numpy(),
    }


def _frame_from(cls: type, state: dict[str, Any]) -> Any:
    import pandas as pd

    data = {
        c: pd.Series(v, dtype=t)
        for c, t, v in zip(state["columns"], state["dtypes"], state["data"], strict=True)
    }
    frame = pd.DataFrame(data, columns=state["columns"])
    frame.index = pd.Index(state["index"])
    return frame


def _tensor_state(tensor: Any) -> dict[str, Any]:
    return {
        "array": tensor.detach().cpu().numpy(),
        "requires_grad": bool(tensor.requires_grad),
        "parameter": type(tensor).__name__ == "Parameter",
    }


def _tensor_from(cls: type, state: dict[str, Any]) -> Any:
    import torch

    tensor = torch.from_numpy(state["array"].copy())
    if state["parameter"]:
        return torch.nn.Parameter(tensor, requires_grad=state["requires_grad"])
    return tensor.requires_grad_(state["requires_grad"])


_BUILTIN_CODECS: dict[str, tuple[Encoder, Decoder]] = {
    "fboost.losses._base.Loss": (_loss_state, _loss_from),
    "numpy.random.mtrand.RandomState": (_random_state_state, _random_state_from),
    "pandas.DataFrame": (_frame_state, _frame_from),
    "pandas.core.frame.DataFrame": (_frame_state, _frame_from),
    "torch.Tensor": (_tensor_state, _tensor_from),
    "torch.nn.parameter.Parameter": (_tensor_state, _tensor_from),
    "torch.device": (str, lambda cls, s: cls(s)),
}


def _codec(cls: type) -> tuple[str, tuple[Encoder, Decoder]] | None:
    for base in cls.__mro__:
        name = _name(base)
        found = _CODECS.get(name) or _BUILTIN_CODECS.get(name)
        if found is not None:
            return name, found
    return None


# -- writing --------------------------------------------------------------------------------------
class _Writer:
    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # objects kept alive so that their ids stay unique

    def array(self, value: np.ndarray) -> int:
        self.arrays.append(np.ascontiguousarray(value) if value.ndim else value)
        return len(self.arrays) - 1

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int) and type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if type(value) is list:
            return [self.encode(v) for v in value]
        if type(value) is tuple:
            return {"$": "tuple", "v": [self.encode(v) for v in value]}
        if type(value) in (set, frozenset):
            return {"$": type(value).__name__, "v": [self.encode(v) for v in value]}
        if type(value) is bytes:
            return {"$": "bytes", "a": self.array(np.frombuffer(value, dtype=np.uint8))}
        if type(value) is dict:
            if all(type(k) is str and k != "$" for k in value):
                return {"$": "dict", "v": {k: self.encode(v) for k, v in value.items()}}
            return {
                "$": "dict",
                "items": [[self.encode(k), self.encode(v)] for k, v in value.items()],
            }
        if type(value) is collections.defaultdict:
            factory = value.default_factory
            if factory not in (None, dict, list, collections.OrderedDict):
                raise TypeError(f"cannot save a defaultdict with factory {factory!r}")
            return {
                "$": "defaultdict",
                "factory": None if factory is None else _name(factory),
                "items": [[self.encode(k), self.encode(v)] for k, v in value.items()],
            }
        if type(value) is collections.OrderedDict:
            return {
                "$": "odict",
                "items": [[self.encode(k), self.encode(v)] for k, v in value.items()],
            }
        if isinstance(value, np.generic):
            return {"$": "scalar", "a": self.array(np.asarray(value))}
        if isinstance(value, type):
            return {"$": "type", "name": _name(value)}
        if id(value) in self.memo:
            return {"$": "ref", "id": self.memo[id(value)]}
        if isinstance(value, np.ndarray):
            node = self._ndarray(value)
        else:
            node = self._object(value)
        return node

    def _remember(self, value: Any) -> int:
        self.keep.append(value)
        self.memo[id(value)] = len(self.memo)
        return self.memo[id(value)]

    def _ndarray(self, value: np.ndarray) -> dict[str, Any]:
        ref = self._remember(value)
        if value.dtype.hasobject:
            items = [self.encode(v) for v in value.ravel().tolist()]
            return {"$": "objarray", "id": ref, "shape": list(value.shape), "v": items}
        return {"$": "array", "id": ref, "a": self.array(value)}

    def _object(self, value: Any) -> dict[str, Any]:
        cls = type(value)
        found = _codec(cls)
        if found is not None:
            ref = self._remember(value)
            return {"$": "custom", "id": ref, "type": _name(cls), "codec": found[0],
                    "state": self.encode(found[1][0](value))}  # fmt: skip
        if _name(cls).startswith("torch.") or hasattr(value, "state_dict"):
            raise TypeError(
                f"cannot save a {_name(cls)}: torch modules are saved as state dicts by their "
                "estimator's __getstate__ (see fboost._persist.module_bytes)"
            )
        reduced = value.__reduce_ex__(4)
        if isinstance(reduced, str) or len(reduced) < 2:
            raise TypeError(f"cannot save a {_name(cls)}: it pickles by reference")
        func, args = reduced[0], reduced[1]
        state = reduced[2] if len(reduced) > 2 else None
        if any(part is not None for part in reduced[3:]):
            raise TypeError(f"cannot save a {_name(cls)}: it pickles as a container")
        ref = self._remember(value)
        node: dict[str, Any] = {"$": "object", "id": ref, "type": _name(cls)}
        if getattr(func, "__name__", None) == "__newobj__" and args and args[0] is cls:
            node["new_args"] = [self.encode(a) for a in args[1:]]
        elif func is cls:
            node["call_args"] = [self.encode(a) for a in args]
        else:
            raise TypeError(
                f"cannot save a {_name(cls)}: it is rebuilt by calling {func!r}; "
                "register_type it with an encode/decode pair"
            )
        if state is not None:
            node["state"] = self.encode(state)
        return node


def save(estimator: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``estimator`` (fitted or not) to ``path`` in fboost's code-free format.

    Parameters
    ----------
    estimator : estimator
        Any fboost estimator; objects it holds must be of saveable types (see the module doc).
    path : path-like
        The file to write (conventionally ``*.fboost``); replaced atomically if it exists.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    writer = _Writer()
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fboost_version": __version__,
        "estimator": writer.encode(estimator),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_DESCRIPTION, json.dumps(description, allow_nan=False))
            for i, array in enumerate(writer.arrays):
                buffer = _io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                archive.writestr(f"arrays/{i}.npy", buffer.getvalue())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- reading --------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, archive: zipfile.ZipFile, trusted: set[str]) -> None:
        self.archive = archive
        self.trusted = trusted
        self.memo: dict[int, Any] = {}

    def array(self, index: Any) -> np.ndarray:
        name = f"arrays/{int(index)}.npy"
        try:
            with self.archive.open(name) as handle:
                return np.lib.format.read_array(handle, allow_pickle=False)
        except KeyError:
            raise UnsafeFileError(f"the file lacks {name}") from None
        except ValueError as exc:  # an object array: would need unpickling
            raise UnsafeFileError(f"{name} cannot be read without unpickling ({exc})") from exc

    def resolve(self, name: Any) -> type:
        if not isinstance(name, str):
            raise UnsafeFileError(f"a type name must be a string, got {name!r}")
        trusted = name in self.trusted or name in _BUILTIN_CODECS or name in _CODECS
        if not trusted and not name.startswith("fboost."):
            raise UnsafeFileError(
                f"the file holds an object of type {name!r}, which is not trusted; if you trust "
                f"this file and that type, pass fboost.load(path, trusted=[{name!r}])"
            )
        module_name, _, qualname = name.rpartition(".")
        obj: Any = None
        for split in range(len(name.split(".")) - 1, 0, -1):  # the module is the longest prefix
            parts = name.split(".")
            try:
                obj = importlib.import_module(".".join(parts[:split]))
            except ImportError:
                continue
            for attr in parts[split:]:
                obj = getattr(obj, attr, None)
            break
        if not isinstance(obj, type) or _name(obj) != name:
            raise UnsafeFileError(f"the file names type {name!r}, which is not a class here")
        return obj

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or "$" not in node:
            raise UnsafeFileError(f"malformed value in {_DESCRIPTION}: {str(node)[:80]}")
        kind = node["$"]
        if kind == "float":
            return float(node["v"])
        if kind == "tuple":
            return tuple(self.decode(v) for v in node["v"])
        if kind in ("set", "frozenset"):
            return (set if kind == "set" else frozenset)(self.decode(v) for v in node["v"])
        if kind == "bytes":
            return self.array(node["a"]).tobytes()
        if kind == "dict":
            if "v" in node:
                return {k: self.decode(v) for k, v in node["v"].items()}
            return {self.decode(k): self.decode(v) for k, v in node["items"]}
        if kind == "odict":
            return collections.OrderedDict(
                (self.decode(k), self.decode(v)) for k, v in node["items"]
            )
        if kind == "defaultdict":
            factories = {None: None, "builtins.dict": dict, "builtins.list": list,
                         "collections.OrderedDict": collections.OrderedDict}  # fmt: skip
            if node["factory"] not in factories:
                raise UnsafeFileError(f"defaultdict factory {node['factory']!r} is not allowed")
            items = ((self.decode(k), self.decode(v)) for k, v in node["items"])
            return collections.defaultdict(factories[node["factory"]], items)
        if kind == "scalar":
            return self.array(node["a"])[()]
        if kind == "type":
            return self.resolve(node["name"])
        if kind == "ref":
            if node["id"] not in self.memo:
                raise UnsafeFileError(f"a reference to an unknown object {node['id']!r}")
            return self.memo[node["id"]]
        if kind == "array":
            self.memo[node["id"]] = array = self.array(node["a"])
            return array
        if kind == "objarray":
            array = np.empty(int(np.prod(node["shape"])), dtype=object)
            self.memo[node["id"]] = array
            array[:] = [self.decode(v) for v in node["v"]]
            return array.reshape(node["shape"])
        if kind == "custom":
            cls = self.resolve(node["type"])
            found = _codec(cls)
            if found is None or found[0] != node["codec"]:
                raise UnsafeFileError(f"no codec {node['codec']!r} for {node['type']!r}")
            self.memo[node["id"]] = obj = found[1][1](cls, self.decode(node["state"]))
            return obj
        if kind == "object":
            return self._object(node)
        raise UnsafeFileError(f"unknown value kind {kind!r} in {_DESCRIPTION}")

    def _object(self, node: dict[str, Any]) -> Any:
        cls = self.resolve(node["type"])
        if "call_args" in node:
            if node["type"] not in self.trusted:  # fboost's own classes are never called
                raise UnsafeFileError(f"the file calls {node['type']!r}, which is not allowed")
            obj = cls(*[self.decode(a) for a in node["call_args"]])
        else:
            obj = cls.__new__(cls, *[self.decode(a) for a in node.get("new_args", [])])
        self.memo[node["id"]] = obj
        if "state" in node:
            state = self.decode(node["state"])
            setstate = getattr(obj, "__setstate__", None)
            if setstate is not None and getattr(cls, "__setstate__", None) is not None:
                setstate(state)
            else:
                slots = None
                if isinstance(state, tuple) and len(state) == 2:
                    state, slots = state
                if state:
                    obj.__dict__.update(state)
                for key, value in (slots or {}).items():
                    setattr(obj, key, value)
        return obj


def _check_version(description: dict[str, Any], path: Path) -> None:
    if description.get("format") != FORMAT:
        raise UnsafeFileError(f"{path} is not an fboost model file")
    written = str(description.get("fboost_version"))
    version = description.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleFileError(
            f"{path} uses file format {version!r} (written by fboost {written}); this fboost "
            f"{__version__} reads formats up to {FORMAT_VERSION}: upgrade fboost to load it"
        )
    if written.split(".")[:2] != __version__.split(".")[:2]:
        raise IncompatibleFileError(
            f"{path} was written by fboost {written}, which this fboost {__version__} cannot "
            f"read (the minor version differs): load it with fboost=={written} and refit or "
            "re-save it"
        )


def load(path: str | os.PathLike[str], *, trusted: Iterable[type | str] = ()) -> Any:
    """Read an estimator written by `save`, executing no code from the file.

    Parameters
    ----------
    path : path-like
        A file written by `save`.
    trusted : iterable of types or "module.QualName" strings, default=()
        Types beyond `TRUSTED` and fboost's own that the file may hold (for instance your own
        learner class); the file may set such objects' attributes.

    Returns
    -------
    estimator

    Raises
    ------
    UnsafeFileError
        Not an fboost model file (a pickle, say), or it holds an untrusted type or a value that
        would need unpickling.
    IncompatibleFileError
        Written by an fboost ``major.minor`` other than this one, or in a newer file format.
    """
    path = Path(path)
    names = set(TRUSTED) | {t if isinstance(t, str) else _name(t) for t in trusted}
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UnsafeFileError(
            f"{path} is not an fboost model file (not a zip archive); fboost.load never "
            "unpickles: if it is a pickle from a source you trust, use pickle.load"
        ) from None
    with archive:
        try:
            description = json.loads(archive.read(_DESCRIPTION))
        except KeyError:
            raise UnsafeFileError(
                f"{path} is not an fboost model file (no {_DESCRIPTION})"
            ) from None
        except ValueError as exc:
            raise UnsafeFileError(f"{path}: {_DESCRIPTION} is not valid JSON ({exc})") from exc
        if not isinstance(description, dict):
            raise UnsafeFileError(f"{path} is not an fboost model file")
        _check_version(description, path)
        try:
            with arrays_only():
                return _Reader(archive, names).decode(description["estimator"])
        except UnsafeWeightsError as exc:
            raise UnsafeFileError(f"{path}: {exc}") from exc
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise UnsafeFileError(f"{path}: malformed {_DESCRIPTION} ({exc!r})") from exc
