import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

from detector.contract import CATEGORIES
from detector.errors import InputError
from models.classifier import CategoryClassifier
from models.model_file import (
    DEFAULT_PRECISION,
    FORMAT,
    TRUSTED_TYPES,
    DetectorModel,
    ModelFileError,
    check_features,
    load_model,
    save_model,
)

FEATURES = [f"feature_{i}" for i in range(6)]


def _direct_threshold(y, scores, precision):
    """The lowest score ``t`` whose flagged set ``scores >= t`` has precision >= ``precision``,
    else the highest score: threshold_for's rule, computed without any curve."""
    candidates = np.unique(scores)
    reached = [t for t in candidates if y[scores >= t].mean() >= precision]
    return float(min(reached)) if reached else float(candidates.max())


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(600, len(FEATURES)))
    X[rng.random(X.shape) < 0.05] = np.nan
    # Each category depends on its own column, so the held-out curves have some shape.
    signal = np.nan_to_num(X[:, :4]) + rng.normal(scale=0.5, size=(600, 4))
    Y = (signal > 1.0).astype(np.int64)
    return X[:300], Y[:300], X[300:], Y[300:]


@pytest.fixture(scope="module")
def model(data):
    X, Y, X_held, Y_held = data
    # Shaped like the shipped model: group members and a linear member per category.
    estimator = CategoryClassifier(feature_groups={"voice_spam": [[0, 1], [2, 3]]}, linear=True, max_iter=5,
                                   random_state=0).fit(X, Y)
    scores = estimator.predict_proba(X_held)
    curves, thresholds = {}, {}
    for k, category in enumerate(CATEGORIES):
        p, r, t = precision_recall_curve(Y_held[:, k], scores[:, k])
        curves[category] = {"precision": p, "recall": r, "threshold": t}
        thresholds[category] = _direct_threshold(Y_held[:, k], scores[:, k], DEFAULT_PRECISION)
    summary = {
        "rows": 300,
        "positives": {c: int(Y[:, k].sum()) for k, c in enumerate(CATEGORIES)},
        "seeds": [1, 2, 3],
        "pr_auc": {c: 0.5 for c in CATEGORIES},
        "date": "2026-10-01",
        "registry": True,
        "note": None,
    }
    return DetectorModel(estimator, list(FEATURES), thresholds, DEFAULT_PRECISION, curves, summary)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.skops"
    save_model(model, path)
    return path


def _raw(path):
    """The dict inside a model file, read with skops directly (for building bad files)."""
    return sio.load(path, trusted=TRUSTED_TYPES)


def _rewrite_schema(src, dest, edit):
    """Copy the skops file ``src`` to ``dest`` with ``edit`` applied to its parsed schema.json:
    a tampered file whose zip structure and checksums are all valid."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "schema.json":
                schema = json.loads(data)
                edit(schema)
                data = json.dumps(schema).encode()
            zout.writestr(name, data)


def _nodes(node):
    """Every node dict in a skops schema, depth first."""
    if isinstance(node, dict):
        if "__class__" in node:
            yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


class Gadget:
    """A class no model file may contain."""

    def __init__(self):
        self.value = 1


class Payload:
    """Unpickling this creates ``marker``: the test that a pickle is never unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -- round trip ---------------------------------------------------------------------------------


def test_round_trip(model, saved, data):
    loaded = load_model(saved)
    X_held = data[2]
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X_held), model.estimator.predict_proba(X_held))
    assert type(loaded.estimator) is CategoryClassifier
    assert loaded.estimator.get_params() == model.estimator.get_params()
    assert loaded.features == model.features
    assert loaded.thresholds == model.thresholds
    assert list(loaded.thresholds) == list(CATEGORIES)
    assert all(type(v) is float for v in loaded.thresholds.values())
    assert loaded.precision == model.precision
    assert loaded.summary == model.summary
    assert loaded.version == model.version
    assert list(loaded.curves) == list(CATEGORIES)
    for category in CATEGORIES:
        assert set(loaded.curves[category]) == {"precision", "recall", "threshold"}
        for key, array in model.curves[category].items():
            np.testing.assert_array_equal(loaded.curves[category][key], array)


def _format_1(content):
    """``content`` as a file of format 1 held it: no ``categories``, and an estimator saved
    before CategoryClassifier had the parameter."""
    del content["categories"]
    content["format"] = "detector-model/1"
    del content["estimator"].categories


def test_a_format_1_file_still_loads_with_all_four_categories(model, saved, data, tmp_path):
    _dump(_format_1)(saved, tmp_path / "old.skops")
    old = load_model(tmp_path / "old.skops")
    assert old.categories == list(CATEGORIES)
    assert old.estimator.get_params() == model.estimator.get_params()
    np.testing.assert_array_equal(old.estimator.predict_proba(data[2]), model.estimator.predict_proba(data[2]))


def test_the_shipped_model_loads():
    from models.model_file import SHIPPED_MODEL

    assert load_model(SHIPPED_MODEL).categories == list(CATEGORIES)


def test_a_model_of_some_categories_round_trips(data, tmp_path):
    """Labels for only some categories (cli.md): the file records which; the others have no
    threshold, no curve and NaN scores."""
    X, Y, X_held, Y_held = data
    some = ["sms_spam", "preactivated_sim"]
    estimator = CategoryClassifier(max_iter=3, categories=some, random_state=0).fit(X, Y)
    scores = estimator.predict_proba(X_held)
    assert np.isnan(scores[:, [0, 2]]).all() and not np.isnan(scores[:, [1, 3]]).any()
    curves, thresholds = {}, {}
    for category in some:
        k = CATEGORIES.index(category)
        p, r, t = precision_recall_curve(Y_held[:, k], scores[:, k])
        curves[category] = {"precision": p, "recall": r, "threshold": t}
        thresholds[category] = 0.5
    model = DetectorModel(estimator, list(FEATURES), thresholds, 0.9, curves, {}, categories=some)
    save_model(model, tmp_path / "some.skops")
    loaded = load_model(tmp_path / "some.skops")
    assert loaded.categories == some and list(loaded.thresholds) == some
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X_held), scores)
    with pytest.raises(ValueError, match="not trained for 'simbox'"):
        loaded.threshold_for("simbox", 0.9)
    # A model that says it has all four but holds only some: refused on save.
    with pytest.raises(ValueError, match="cannot save"):
        save_model(DetectorModel(estimator, list(FEATURES), thresholds, 0.9, curves, {}), tmp_path / "bad.skops")


def test_accepts_str_path_and_creates_directories(model, tmp_path):
    path = tmp_path / "deep" / "er" / "model.skops"
    save_model(model, str(path))
    assert load_model(str(path)).features == FEATURES
    assert [p.name for p in path.parent.iterdir()] == ["model.skops"]  # no temporary file left


def test_version_defaults_to_the_package_version(model):
    import importlib.metadata

    assert model.version == importlib.metadata.version("detector")


def test_trusted_types_are_exactly_what_the_file_needs(saved):
    assert sorted(TRUSTED_TYPES) == sio.get_untrusted_types(file=saved)


def test_trusted_types_do_not_depend_on_feature_sets(data, model, tmp_path):
    X, Y = data[0], data[1]
    sets = {"voice_spam": [0, 1], "sms_spam": (1, 2), "simbox": np.array([3, 4]), "preactivated_sim": [5]}
    estimator = CategoryClassifier(sets, linear=True, max_iter=3, class_weight=None, random_state=1).fit(X, Y)
    other = DetectorModel(estimator, model.features, model.thresholds, 0.9, model.curves, {})
    save_model(other, tmp_path / "m.skops")
    assert sio.get_untrusted_types(file=tmp_path / "m.skops") == sorted(TRUSTED_TYPES)
    loaded = load_model(tmp_path / "m.skops")
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X), estimator.predict_proba(X))


def test_load_never_trusts_everything(saved, monkeypatch):
    seen = []
    real_load = sio.load

    def spy(file, trusted=None):
        seen.append(trusted)
        return real_load(file, trusted=trusted)

    monkeypatch.setattr(sio, "load", spy)
    load_model(saved)
    assert seen == [TRUSTED_TYPES]
    assert isinstance(seen[0], list) and all(isinstance(t, str) for t in seen[0])


def test_saved_file_is_small(saved):
    # 4 categories x 5 trees of up to 31 leaves, compressed: well under 200 KB.
    assert saved.stat().st_size < 200_000


def test_summary_numpy_scalars_and_tuples_are_stored_as_plain_values(model, tmp_path):
    summary = {"rows": np.int64(300), "auc": np.float64(0.75), "seeds": (1, 2), "ok": np.bool_(True)}
    other = DetectorModel(model.estimator, model.features, model.thresholds, 0.95, model.curves, summary)
    save_model(other, tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops").summary
    assert loaded == {"rows": 300, "auc": 0.75, "seeds": [1, 2], "ok": True}
    assert [type(v) for v in loaded.values()] == [int, float, list, bool]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"summary": {"model": LogisticRegression()}}, "summary"),
        ({"summary": {1: "x"}}, "non-str key"),
        ({"thresholds": {"voice_spam": 0.5}}, "thresholds: missing sms_spam"),
        ({"features": ["a", "b"]}, "6 columns but 2 features"),
        ({"precision": 1.5}, "precision"),
    ],
)
def test_save_refuses_a_bad_model_and_keeps_the_old_file(model, saved, tmp_path, change, match):
    path = tmp_path / "model.skops"
    path.write_bytes(saved.read_bytes())
    fields = {k: getattr(model, k) for k in ("estimator", "features", "thresholds", "precision", "curves", "summary")}
    with pytest.raises(ValueError, match=match):
        save_model(DetectorModel(**(fields | change)), path)
    assert path.read_bytes() == saved.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]


# -- threshold_for ------------------------------------------------------------------------------


def _hand_made(precision, recall, threshold):
    curve = {
        "precision": np.array(precision, dtype=float),
        "recall": np.array(recall, dtype=float),
        "threshold": np.array(threshold, dtype=float),
    }
    return DetectorModel(None, FEATURES, {}, 0.95, {c: curve for c in CATEGORIES}, {})


HAND_MADE = _hand_made(
    precision=[0.50, 0.60, 0.96, 0.90, 0.97, 1.0],
    recall=[1.00, 0.90, 0.80, 0.60, 0.30, 0.0],
    threshold=[0.10, 0.20, 0.30, 0.40, 0.50],
)


@pytest.mark.parametrize(
    "target, expected",
    [
        (0.95, 0.30),  # lowest threshold reaching 0.95, although 0.40 dips to 0.90
        (0.96, 0.30),  # equality counts
        (0.90, 0.30),
        (0.60, 0.20),
        (0.50, 0.10),
        (0.97, 0.50),
        (0.99, 0.50),  # unreachable (the final precision 1.0 has no threshold): the highest one
        (1.00, 0.50),
    ],
)
def test_threshold_for_hand_made_curve(target, expected):
    assert HAND_MADE.threshold_for("simbox", target) == expected


def test_threshold_for_unreachable_target_is_the_strictest_threshold():
    model = _hand_made(precision=[0.1, 0.2, 0.3, 1.0], recall=[1.0, 0.5, 0.2, 0.0], threshold=[0.2, 0.6, 0.9])
    assert model.threshold_for("voice_spam", 0.5) == 0.9


@pytest.mark.parametrize("target", [0, -0.1, 1.01, float("nan"), True, "0.9"])
def test_threshold_for_rejects_bad_targets(target):
    with pytest.raises(ValueError, match="precision must be"):
        HAND_MADE.threshold_for("simbox", target)


def test_threshold_for_rejects_unknown_category():
    with pytest.raises(ValueError, match="unknown category 'fax_spam'"):
        HAND_MADE.threshold_for("fax_spam", 0.9)


def test_stored_thresholds_follow_the_curve_rule(model, saved):
    # The fixture picked each threshold straight from the held-out scores; the stored curve gives
    # the same answer, before and after a round trip.
    loaded = load_model(saved)
    for category in CATEGORIES:
        assert model.threshold_for(category, model.precision) == model.thresholds[category]
        assert loaded.threshold_for(category, loaded.precision) == loaded.thresholds[category]


def test_threshold_for_matches_direct_computation(model, data):
    _, _, X_held, Y_held = data
    scores = model.estimator.predict_proba(X_held)
    for k, category in enumerate(CATEGORIES):
        for target in (0.3, 0.5, 0.8, 0.95, 0.999):
            assert model.threshold_for(category, target) == _direct_threshold(Y_held[:, k], scores[:, k], target)


# -- bad files ----------------------------------------------------------------------------------


def _missing(saved, path):
    pass


def _directory(saved, path):
    path.mkdir()


def _empty(saved, path):
    path.write_bytes(b"")


def _random_bytes(saved, path):
    path.write_bytes(np.random.default_rng(0).bytes(5000))


def _plain_pickle(saved, path):
    path.write_bytes(pickle.dumps({"format": FORMAT, "features": FEATURES}))


def _truncated(saved, path):
    data = saved.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _truncated_end(saved, path):
    path.write_bytes(saved.read_bytes()[:-100])


def _flipped_bytes(saved, path):
    data = bytearray(saved.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _flipped_schema_byte(saved, path):
    # One byte inside schema.json's compressed data: zip's CRC or zlib catches it.
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("schema.json")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _zip_without_schema(saved, path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")


def _schema_not_json(saved, path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", "{not json")


def _schema_extra_field(saved, path):
    def edit(schema):
        schema["content"]["extra"] = dict(schema["content"]["version"])
        schema["key_types"]["content"].append(dict(schema["key_types"]["content"][0]))

    _rewrite_schema(saved, path, edit)


def _schema_untrusted_field_without_key_type(saved, path):
    # skops drops an entry that has no key type, but audits its types first.
    def edit(schema):
        schema["content"]["extra"] = {"__class__": "system", "__module__": "os", "__loader__": "ObjectNode"}

    _rewrite_schema(saved, path, edit)


def _schema_estimator_is_logistic_regression(saved, path):
    # LogisticRegression is trusted by skops by default: the file loads, our check refuses it.
    def edit(schema):
        schema["content"]["estimator"]["__class__"] = "LogisticRegression"
        schema["content"]["estimator"]["__module__"] = "sklearn.linear_model._logistic"

    _rewrite_schema(saved, path, edit)


def _schema_predictor_is_os_system(saved, path):
    def edit(schema):
        node = next(n for n in _nodes(schema) if n["__class__"] == "TreePredictor")
        node["__class__"], node["__module__"] = "system", "os"

    _rewrite_schema(saved, path, edit)


def _schema_feature_is_int(saved, path):
    def edit(schema):
        schema["content"]["features"]["content"][0]["content"] = "5"
        schema["content"]["features"]["content"][0]["__class__"] = "int"

    _rewrite_schema(saved, path, edit)


def _schema_newer_protocol(saved, path):
    def edit(schema):
        schema["protocol"] = 99

    _rewrite_schema(saved, path, edit)


def _dump(edit):
    def make(saved, path):
        content = _raw(saved)
        content = edit(content) or content
        sio.dump(content, path)

    return make


def _other_estimator(content):
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    return LogisticRegression().fit(X, y)


def _with_gadget(content):
    content["summary"]["gadget"] = Gadget()


def _missing_key(content):
    del content["curves"]


def _wrong_tag(content):
    content["format"] = "something-else/1"


def _older_looking_tag(content):
    content["format"] = "detector-model/0"


def _estimator_not_category_classifier(content):
    content["estimator"] = content["estimator"].estimators_[0]


def _unfitted_estimator(content):
    content["estimator"] = CategoryClassifier()


def _features_not_str(content):
    content["features"] = [1, 2, 3, 4, 5, 6]


def _features_tuple(content):
    content["features"] = tuple(content["features"])


def _threshold_missing_category(content):
    del content["thresholds"]["simbox"]


def _threshold_not_float(content):
    content["thresholds"]["simbox"] = "0.5"


def _threshold_nan(content):
    content["thresholds"]["simbox"] = float("nan")


def _curve_wrong_length(content):
    content["curves"]["sms_spam"]["threshold"] = content["curves"]["sms_spam"]["threshold"][:-1]


def _curve_not_array(content):
    content["curves"]["sms_spam"]["recall"] = list(content["curves"]["sms_spam"]["recall"])


def _summary_with_array(content):
    content["summary"]["scores"] = np.zeros(3)


def _version_not_str(content):
    content["version"] = 1


def _categories_out_of_order(content):
    content["categories"] = list(reversed(content["categories"]))


def _categories_unknown(content):
    content["categories"] = [*content["categories"][:3], "spam"]


def _categories_without_thresholds(content):
    content["categories"] = content["categories"][:3]


def _format_1_with_categories(content):
    content["format"] = "detector-model/1"


BAD_FILES = {
    "missing": (_missing, "not found"),
    "directory": (_directory, "not a file"),
    "empty": (_empty, "not a skops archive"),
    "random-bytes": (_random_bytes, "not a skops archive"),
    "pickle": (_plain_pickle, "not a skops archive"),
    "truncated-half": (_truncated, "truncated"),
    "truncated-end": (_truncated_end, "truncated"),
    "flipped-bytes": (_flipped_bytes, "damaged or tampered with"),
    "flipped-schema-byte": (_flipped_schema_byte, "damaged"),
    "zip-without-schema": (_zip_without_schema, r"damaged.*KeyError: There is no item named 'schema\.json'"),
    "schema-not-json": (_schema_not_json, "damaged"),
    "schema-extra-field": (_schema_extra_field, "unexpected 'extra'"),
    "schema-untrusted-extra": (_schema_untrusted_field_without_key_type, r"refused.*os\.system"),
    "schema-estimator-type": (_schema_estimator_is_logistic_regression, "not a CategoryClassifier"),
    "schema-os-system": (_schema_predictor_is_os_system, r"refused.*os\.system"),
    "schema-feature-int": (_schema_feature_is_int, "features must be"),
    "schema-newer-protocol": (_schema_newer_protocol, r"newer skops \(file protocol 99"),
    "other-sklearn-estimator": (_dump(_other_estimator), "holds a LogisticRegression, not a dict"),
    "custom-class": (_dump(_with_gadget), r"refused.*Gadget"),
    "missing-key": (_dump(_missing_key), "missing curves"),
    "wrong-tag": (_dump(_wrong_tag), f"no '{FORMAT}' format tag"),
    "older-tag": (_dump(_older_looking_tag), "unsupported format 'detector-model/0'"),
    "estimator-hgb": (_dump(_estimator_not_category_classifier), "HistGradientBoostingClassifier, not a Cat"),
    "estimator-unfitted": (_dump(_unfitted_estimator), "not a fitted CategoryClassifier"),
    "features-not-str": (_dump(_features_not_str), "features must be"),
    "features-tuple": (_dump(_features_tuple), "features must be"),
    "threshold-missing": (_dump(_threshold_missing_category), "thresholds: missing simbox"),
    "threshold-str": (_dump(_threshold_not_float), r"thresholds\['simbox'\]"),
    "threshold-nan": (_dump(_threshold_nan), r"thresholds\['simbox'\]"),
    "curve-length": (_dump(_curve_wrong_length), r"curves\['sms_spam'\] must have"),
    "curve-list": (_dump(_curve_not_array), "1-D float64 array"),
    "summary-array": (_dump(_summary_with_array), "holds a ndarray"),
    "version-int": (_dump(_version_not_str), "version must be"),
    "categories-order": (_dump(_categories_out_of_order), "categories must be"),
    "categories-unknown": (_dump(_categories_unknown), "categories must be"),
    "categories-not-thresholds": (_dump(_categories_without_thresholds), "not a fitted CategoryClassifier"),
    "format-1-with-categories": (_dump(_format_1_with_categories), "unexpected 'categories'"),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.InconsistentVersionWarning")  # tampered estimator
@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_file_is_one_clear_error(name, saved, tmp_path):
    make, match = BAD_FILES[name]
    path = tmp_path / f"{name}.skops"
    make(saved, path)
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"model file {path}: ")
    assert "\n" not in message and "Traceback" not in message
    assert len(message) < 300 + len(str(path))
    assert isinstance(info.value, InputError)
    assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)


def test_newer_format_says_so(saved, tmp_path):
    content = _raw(saved)
    content["format"] = "detector-model/3"
    content["version"] = "9.0.0"
    sio.dump(content, tmp_path / "newer.skops")
    with pytest.raises(ModelFileError, match=r"made by detector 9\.0\.0, a newer version .*detector-model/3"):
        load_model(tmp_path / "newer.skops")


def test_newer_format_with_new_types_and_keys_says_so(saved, tmp_path):
    # A newer format may hold types and keys this version does not know: the message is still
    # "newer version", not "untrusted types".
    content = _raw(saved)
    content["format"] = "detector-model/12"
    content["calibrator"] = Gadget()
    sio.dump(content, tmp_path / "newer.skops")
    with pytest.raises(ModelFileError, match=r"a newer version .*detector-model/12"):
        load_model(tmp_path / "newer.skops")


def test_schema_entry_without_key_type_is_dropped_by_skops(model, saved, tmp_path):
    # skops 0.16 builds a dict by zipping its key types with its entries, so an entry added to
    # schema.json without a key type is silently left out (its types are still audited, see
    # "schema-untrusted-extra"). What loads is the model as saved.
    def edit(schema):
        schema["content"]["extra"] = dict(schema["content"]["version"])

    _rewrite_schema(saved, tmp_path / "m.skops", edit)
    assert load_model(tmp_path / "m.skops").features == model.features


def test_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps({"estimator": Payload(marker)}))
    with pytest.raises(ModelFileError, match="not a skops archive"):
        load_model(path)
    assert not marker.exists()

    # The payload is real: unpickling it would have created the marker.
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(proof)))
    assert proof.exists()


def test_pickle_inside_a_zip_is_never_unpickled(tmp_path):
    # A zip carrying a pickle where skops expects its schema or an array.
    marker = tmp_path / "marker"
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", pickle.dumps(Payload(marker)))
        archive.writestr("1.npy", pickle.dumps(Payload(marker)))
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(path)
    assert not marker.exists()


def test_unreadable_file(saved, tmp_path, monkeypatch):
    path = tmp_path / "locked.skops"
    path.write_bytes(saved.read_bytes())
    real_open = Path.open

    def locked(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", locked)
    with pytest.raises(ModelFileError, match=r"locked\.skops: cannot read it \(Permission denied\)$"):
        load_model(path)


# -- check_features -----------------------------------------------------------------------------


def test_check_features_accepts_extra_and_reordered_columns(model):
    check_features(model, ["msisdn", *reversed(FEATURES), "other"])


def test_check_features_names_the_missing_columns(model):
    with pytest.raises(ModelFileError, match=r"lacks 2 column\(s\).*: feature_1, feature_4$") as info:
        check_features(model, ["msisdn", "feature_0", "feature_2", "feature_3", "feature_5"])
    assert "feature_0" not in str(info.value)
    assert isinstance(info.value, InputError)


def test_check_features_shortens_a_long_list(model):
    many = DetectorModel(model.estimator, [f"f{i}" for i in range(25)], {}, 0.95, {}, {})
    with pytest.raises(ModelFileError, match=r"lacks 25 column\(s\).*f9 and 15 more$"):
        check_features(many, [])
