"""The model file: a fitted :class:`~models.classifier.CategoryClassifier` with everything needed
to score with it (the feature columns it reads, the per-category thresholds, the held-out
precision-recall curves the thresholds were picked from, and a training summary).

The file is a skops archive (a zip of ``schema.json`` plus NumPy arrays), never a pickle: loading
it builds only the types skops trusts by default (built-ins, NumPy arrays, scikit-learn
estimators) plus the short explicit list :data:`TRUSTED_TYPES`, and runs no code from the file.

Trust boundary
--------------
skops checks the *types* in a file, not their *contents*.
``sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor`` (in :data:`TRUSTED_TYPES`,
as every fitted tree model needs it) stores node indices that scikit-learn follows without
bounds checks, so a crafted file could crash ``predict_proba``. Load model files you or your
team wrote (or the one shipped in the package), not files from strangers.

Every way a file can be bad -- missing, not a skops archive (a pickle, random bytes), truncated,
tampered with, holding types outside the trusted list, or a valid skops file that is not a
detector model -- raises :class:`ModelFileError`: one line naming the file and the reason.
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import json
import math
import numbers
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skops.io.exceptions import UntrustedTypesFoundException

from detector.atomic_writes import atomic_path
from detector.contract import CATEGORIES
from detector.errors import InputError, one_line
from models.classifier import CategoryClassifier

#: The format tag written in every model file; the number goes up when the content changes in a
#: way older readers cannot handle. 2 added ``categories`` (a model may have only some of the
#: four); a file of format 1 has all four and still loads.
FORMAT = "detector-model/2"
_FORMAT_PREFIX, _, _FORMAT_NUMBER = FORMAT.rpartition("/")
_FORMAT_RE = re.compile(rf"{re.escape(_FORMAT_PREFIX)}/(\d+)")

#: The target precision thresholds are picked for when training is not told otherwise.
DEFAULT_PRECISION = 0.95
#: The model shipped inside the package (``make model`` trains it); ``detector score`` uses it
#: when no ``--model`` is given.
SHIPPED_MODEL = Path(__file__).resolve().parent / "default_model.skops"

#: The types a model file needs beyond those skops trusts by default, as reported by
#: ``skops.io.get_untrusted_types`` on a saved fitted model (the tests check that the two agree).
#: Everything else in the file (dicts, lists, str/int/float, NumPy arrays, the scikit-learn
#: estimators and their losses and binners) is trusted by skops itself.
TRUSTED_TYPES: list[str] = [
    "models.classifier.CategoryClassifier",
    "numpy.dtype",  # the input dtype the linear members' imputer records: data, not code
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]

#: The keys of the dict stored in a model file, in the order they are written, per format number
#: this version reads.
_KEYS_BY_FORMAT: dict[int, tuple[str, ...]] = {
    1: ("format", "estimator", "features", "thresholds", "precision", "curves", "summary", "version"),
    2: ("format", "estimator", "features", "categories", "thresholds", "precision", "curves", "summary", "version"),
}
#: The arrays of one category's curve, as returned by ``sklearn.metrics.precision_recall_curve``.
_CURVE_KEYS = ("precision", "recall", "threshold")


def package_version() -> str:
    """The installed version of the ``detector`` package, or ``"0+unknown"`` when not installed."""
    try:
        return importlib.metadata.version("detector")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


class ModelFileError(InputError):
    """A model file that cannot be used: missing, unreadable, damaged, untrusted, or not a
    detector model; or a feature table that lacks columns the model needs."""


@dataclass(eq=False)
class DetectorModel:
    """What a model file holds.

    Attributes
    ----------
    estimator : CategoryClassifier
        The fitted classifier.
    features : list of str
        The feature-table column names, in the order of the columns of ``X``.
    thresholds : dict of str to float
        Per category, the score threshold in use: a number is flagged for a category when its
        score is ``>=`` the threshold. Normally ``threshold_for(category, precision)``.
    precision : float
        The target precision the thresholds were picked for (training uses
        :data:`DEFAULT_PRECISION` unless told otherwise).
    curves : dict of str to dict of str to ndarray
        Per category, ``{"precision": ..., "recall": ..., "threshold": ...}`` from
        ``sklearn.metrics.precision_recall_curve`` on held-out data: ``precision[i]`` and
        ``recall[i]`` are those of flagging ``score >= threshold[i]``; the last precision/recall
        pair (1, 0) has no threshold, so ``threshold`` is one shorter.
    summary : dict
        Training summary (rows, positives per category, worlds/seeds, held-out PR-AUC, date...):
        JSON-like values only -- str, int, float, bool, None, lists and dicts with str keys.
    version : str
        The ``detector`` version that wrote the model (defaults to the installed one).
    categories : list of str
        The categories the model was trained for, in ``CATEGORIES`` order (default: all four).
        Labels may name only some (cli.md): the others have no threshold, no curve and no
        estimator members, their scores are null and they flag nothing.

    Notes
    -----
    ``eq=False``: the fields hold an estimator and arrays, which ``==`` cannot compare.
    """

    estimator: CategoryClassifier
    features: list[str]
    thresholds: dict[str, float]
    precision: float
    curves: dict[str, dict[str, np.ndarray]]
    summary: dict[str, object]
    version: str = field(default_factory=package_version)
    categories: list[str] = field(default_factory=lambda: list(CATEGORIES))

    def threshold_for(self, category: str, precision: float) -> float:
        """Re-pick ``category``'s threshold for a target ``precision`` from its stored curve.

        The rule: among the curve's thresholds whose held-out precision is ``>= precision``,
        the lowest one (flagging ``score >= threshold``, the lowest such threshold keeps the most
        recall). If no threshold reaches the target, the highest threshold on the curve -- the
        strictest the held-out data can support; the result is never below it in that case.

        Held-out precision need not rise steadily with the threshold, so the chosen threshold is
        the lowest point that reached the target, not the start of a region where every higher
        threshold also does. The curve's final point (precision 1, recall 0) has no threshold
        and is ignored.

        Parameters
        ----------
        category : str
            One of ``CATEGORIES``.
        precision : float
            The target precision, in (0, 1].

        Returns
        -------
        float
        """
        if category not in self.curves:
            if category in CATEGORIES:
                raise ValueError(f"the model was not trained for {category!r} (it has {', '.join(self.categories)})")
            raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
        if isinstance(precision, bool) or not isinstance(precision, numbers.Real) or not 0 < precision <= 1:
            raise ValueError(f"precision must be a number in (0, 1], got {precision!r}")
        curve = self.curves[category]
        thresholds = np.asarray(curve["threshold"], dtype=np.float64)
        reached = np.asarray(curve["precision"], dtype=np.float64)[: thresholds.size] >= precision
        if reached.any():
            return float(thresholds[reached].min())
        return float(thresholds.max())


def save_model(model: DetectorModel, path: str | Path) -> None:
    """Write ``model`` to ``path`` as a skops file, atomically.

    Numbers are stored as plain floats, curves as float64 arrays, and NumPy scalars and tuples in
    ``summary`` as Python numbers and lists. The content is then checked exactly as
    :func:`load_model` checks it, so a file this writes always loads.

    Raises
    ------
    ValueError
        If the model is not complete or well formed (a bug in the caller); nothing is written.
    """
    try:
        content = {
            "format": FORMAT,
            "estimator": model.estimator,
            "features": list(model.features),
            "categories": list(model.categories),
            "thresholds": {
                c: _number(v, f"thresholds[{c!r}]") for c, v in _ordered(model.thresholds, "thresholds").items()
            },
            "precision": _number(model.precision, "precision"),
            "curves": {c: _curve(v) for c, v in _ordered(model.curves, "curves").items()},
            "summary": _json_like(model.summary),
            "version": model.version,
        }
        _check_content(content)
    except _Invalid as exc:
        raise ValueError(f"cannot save model to {path}: {exc}") from None
    with atomic_path(path) as tmp:
        sio.dump(content, tmp, compression=zipfile.ZIP_DEFLATED)


def load_model(path: str | Path) -> DetectorModel:
    """Read a model file written by :func:`save_model`.

    The file is read with ``skops.io.load`` trusting only :data:`TRUSTED_TYPES` beyond skops's
    defaults; nothing in it is unpickled. Its content is then checked strictly: exactly the
    expected keys, the format tag, and the type and shape of every value.

    Raises
    ------
    ModelFileError
        One line naming ``path`` and what is wrong with it.
    """
    path = Path(path)

    def error(reason: str) -> ModelFileError:
        return ModelFileError(f"model file {path}: {reason}")

    if not path.exists():
        raise error("not found")
    if not path.is_file():
        raise error("not a file")
    try:
        with path.open("rb") as file:  # opened here: is_zipfile would turn a read error into False
            is_zip = zipfile.is_zipfile(file)
    except OSError as exc:
        raise error(f"cannot read it ({exc.strerror or one_line(exc)})") from None
    if not is_zip:
        raise error("not a detector model file (not a skops archive, or truncated)")

    _check_format_early(path, error)
    try:
        content = sio.load(path, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException as exc:
        raise error(f"refused, it holds types a detector model does not use ({_short(one_line(exc))})") from None
    except Exception as exc:  # noqa: BLE001 -- whatever a damaged file makes the reader raise
        raise error(f"damaged or tampered with ({_describe(exc)})") from None
    try:
        return _check_content(content)
    except _Newer as exc:
        raise error(str(exc)) from None
    except _Invalid as exc:
        raise error(f"not a valid detector model ({exc})") from None


def check_features(model: DetectorModel, columns: Sequence[str]) -> None:
    """Raise :class:`ModelFileError` naming the model's features that ``columns`` lacks.

    Extra columns, and columns in another order, are fine: the caller selects ``model.features``
    from the table in the model's order.
    """
    present = set(columns)
    missing = [name for name in model.features if name not in present]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise ModelFileError(
            f"the feature table lacks {len(missing)} column(s) the model (detector {model.version}) needs: {shown}"
        )


class _Invalid(ValueError):
    """The content of a model file is not a detector model; the message says why."""


class _Newer(_Invalid):
    """The file was written in a newer format than this version reads."""


def _newer_message(tag: str, version: object) -> str:
    by = f"detector {version}" if isinstance(version, str) and version else "a newer version of detector"
    return f"made by {by}, a newer version (format {tag}; this version reads {FORMAT}): upgrade detector to use it"


def _check_format_tag(tag: object, version: object) -> int:
    """The format number of ``tag``, one this version reads (:data:`_KEYS_BY_FORMAT`)."""
    if not isinstance(tag, str) or not (match := _FORMAT_RE.fullmatch(tag)):
        raise _Invalid(f"no {FORMAT!r} format tag")
    number = int(match.group(1))
    if number > int(_FORMAT_NUMBER):
        raise _Newer(_newer_message(tag, version))
    if number not in _KEYS_BY_FORMAT or tag != f"{_FORMAT_PREFIX}/{number}":
        raise _Invalid(f"unsupported format {tag!r}, expected {FORMAT!r}")
    return number


def _check_format_early(path: Path, error: Callable[[str], ModelFileError]) -> None:
    """Give the "newer version" message before skops reads the file, which a newer format may
    fail in other ways (new types, new keys, a newer skops protocol). Reads only ``schema.json``,
    as JSON; when the tag cannot be found there (a damaged file, or a skops layout this code does
    not know), the full load and check that follow decide."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
        protocol = schema.get("protocol")
    except Exception:  # noqa: BLE001 -- only a hint; skops.io.load reports damage below
        return
    try:
        entries = schema["content"]
        tag, version = (json.loads(entries[k]["content"]) if k in entries else None for k in ("format", "version"))
    except Exception:  # noqa: BLE001 -- not a dict of JSON values at the top: no tag to read
        tag = version = None
    if isinstance(tag, str) and (match := _FORMAT_RE.fullmatch(tag)) and int(match.group(1)) > int(_FORMAT_NUMBER):
        raise error(_newer_message(tag, version))
    if type(protocol) is int and protocol > _skops_protocol():
        raise error(
            f"written with a newer skops (file protocol {protocol}, this skops reads up to {_skops_protocol()}):"
            " upgrade skops to use it"
        )


def _check_content(content: object) -> DetectorModel:
    """Check everything about a model file's content; raise :class:`_Invalid` saying what is wrong."""
    if not isinstance(content, dict):
        raise _Invalid(f"holds a {type(content).__name__}, not a dict")
    number = _check_format_tag(content.get("format"), content.get("version"))
    _check_keys(content, _KEYS_BY_FORMAT[number])
    # Format 1 predates models of only some categories: it has all four.
    categories = content["categories"] if "categories" in content else list(CATEGORIES)
    if (not isinstance(categories, list) or not categories or not all(isinstance(c, str) for c in categories)
            or categories != [c for c in CATEGORIES if c in categories]):
        raise _Invalid(f"categories must be a non-empty list of distinct categories in the order "
                       f"{', '.join(CATEGORIES)}")

    features = content["features"]
    if not isinstance(features, list) or not features or not all(isinstance(f, str) and f for f in features):
        raise _Invalid("features must be a non-empty list of column names")
    if len(set(features)) != len(features):
        raise _Invalid("features has duplicate names")

    estimator = content["estimator"]
    if type(estimator) is not CategoryClassifier:
        raise _Invalid(f"estimator is a {type(estimator).__name__}, not a CategoryClassifier")
    fitted = getattr(estimator, "estimators_", None)
    columns = getattr(estimator, "columns_", None)
    members = getattr(estimator, "member_category_", None)
    if (
        not isinstance(fitted, list)
        or len(fitted) < len(categories)
        or not all(type(m) is HistGradientBoostingClassifier or _is_linear_member(m) for m in fitted)
        or not isinstance(columns, list)
        or len(columns) != len(fitted)
        or not isinstance(members, np.ndarray)
        or members.shape != (len(fitted),)
        or set(members.tolist()) != {CATEGORIES.index(c) for c in categories}
    ):
        raise _Invalid("estimator is not a fitted CategoryClassifier")
    if not hasattr(estimator, "categories"):
        # Saved before CategoryClassifier had the parameter (format 1): it fitted all four,
        # which is what the default says.
        estimator.categories = None
    n_columns = getattr(estimator, "n_features_in_", None)
    if n_columns != len(features):
        raise _Invalid(f"estimator reads {n_columns} columns but {len(features)} features are named")

    thresholds = content["thresholds"]
    if not isinstance(thresholds, dict):
        raise _Invalid("thresholds must be a dict")
    _check_keys(thresholds, categories, "thresholds")
    for category, value in thresholds.items():
        if not _is_float(value) or not 0 <= value <= 1:
            raise _Invalid(f"thresholds[{category!r}] must be a float in [0, 1]")

    precision = content["precision"]
    if not _is_float(precision) or not 0 < precision <= 1:
        raise _Invalid("precision must be a float in (0, 1]")

    curves = content["curves"]
    if not isinstance(curves, dict):
        raise _Invalid("curves must be a dict")
    _check_keys(curves, categories, "curves")
    for category, curve in curves.items():
        _check_curve(category, curve)

    summary = content["summary"]
    if not isinstance(summary, dict):
        raise _Invalid("summary must be a dict")
    _check_json_like(summary, "summary")

    version = content["version"]
    if not isinstance(version, str) or not version:
        raise _Invalid("version must be a non-empty str")

    return DetectorModel(estimator, features, thresholds, precision, curves, summary, version, categories)


def _is_linear_member(model: object) -> bool:
    """A linear member exactly as CategoryClassifier builds it: imputer, scaler, logistic regression."""
    return type(model) is Pipeline and [type(step) for _, step in model.steps] == [
        SimpleImputer, StandardScaler, LogisticRegression]


def _check_keys(mapping: dict, expected: Sequence[str], what: str = "") -> None:
    prefix = f"{what}: " if what else ""
    missing = [k for k in expected if k not in mapping]
    extra = sorted(repr(k) for k in mapping if k not in expected)
    if missing:
        raise _Invalid(f"{prefix}missing {', '.join(missing)}")
    if extra:
        raise _Invalid(f"{prefix}unexpected {', '.join(extra)}")


def _check_curve(category: str, curve: object) -> None:
    if not isinstance(curve, dict):
        raise _Invalid(f"curves[{category!r}] must be a dict")
    _check_keys(curve, _CURVE_KEYS, f"curves[{category!r}]")
    for key, array in curve.items():
        if type(array) is not np.ndarray or array.ndim != 1 or array.dtype != np.float64:
            raise _Invalid(f"curves[{category!r}][{key!r}] must be a 1-D float64 array")
        if not np.isfinite(array).all():
            raise _Invalid(f"curves[{category!r}][{key!r}] has non-finite values")
    n = curve["threshold"].size
    if n == 0 or curve["precision"].size != n + 1 or curve["recall"].size != n + 1:
        raise _Invalid(f"curves[{category!r}] must have n >= 1 thresholds and n + 1 precision and recall values")
    for key in ("precision", "recall"):
        if curve[key].min() < 0 or curve[key].max() > 1:
            raise _Invalid(f"curves[{category!r}][{key!r}] must lie in [0, 1]")


def _check_json_like(value: object, where: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_like(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Invalid(f"{where} has a non-str key {key!r}")
            _check_json_like(item, f"{where}[{key!r}]")
        return
    raise _Invalid(f"{where} holds a {type(value).__name__}; only str, int, float, bool, None, list and dict")


def _is_float(value: object) -> bool:
    return type(value) is float and not math.isnan(value)


def _number(value: object, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _Invalid(f"{what} must be a number, got {value!r}")
    return float(value)


def _curve(curve: object) -> object:
    if not isinstance(curve, Mapping):
        return curve
    return {k: np.ascontiguousarray(v, dtype=np.float64) if k in _CURVE_KEYS else v for k, v in curve.items()}


def _ordered(mapping: object, what: str) -> dict:
    """``mapping`` as a dict with the categories first, in ``CATEGORIES`` order."""
    if not isinstance(mapping, Mapping):
        raise _Invalid(f"{what} must be a dict")
    return {c: mapping[c] for c in CATEGORIES if c in mapping} | {
        k: v for k, v in mapping.items() if k not in CATEGORIES
    }


def _json_like(value: object) -> object:
    """``value`` with NumPy scalars as Python ones and tuples as lists; anything else unchanged
    (and left for :func:`_check_json_like` to reject)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_json_like(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _json_like(v) for k, v in value.items()}
    return value


def _describe(exc: Exception) -> str:
    """``exc`` as a short ``Type: first line`` (``KeyError`` without its quotes, ``zlib.error`` by module)."""
    name = type(exc).__name__
    if name == "error":
        name = f"{type(exc).__module__} error"
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else one_line(exc)
    return _short(f"{name}: {text}")


@functools.cache
def _skops_protocol() -> int:
    """The skops protocol the installed skops writes, which is the newest it reads."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps(0))) as archive:
        return json.loads(archive.read("schema.json"))["protocol"]


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
