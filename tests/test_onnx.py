"""ONNX export: onnxruntime reproduces predict exactly and predict_proba to 1e-5 (float32).

Every model is fitted on some rows and compared with its own ``predict`` and
``predict_proba`` on held-out rows, among them rows scaled far out (logits in the
hundreds, probabilities in the tails) and all-zero rows of a model without intercept
(logits exactly 0, where ties and thresholds decide).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

skl2onnx = pytest.importorskip("skl2onnx", reason="the [onnx] extra is not installed")
rt = pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

import skmultinomial.onnx  # noqa: E402, F401 (registers the converters)
from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier  # noqa: E402

# A float32 graph computes in float64 and rounds its probabilities to float32 at the end:
# 1e-5 is the bound (they are within about 1e-7); a float64 graph agrees with the
# estimators' arithmetic to a few rounding steps.
ATOL = {np.float32: 1e-5, np.float64: 1e-12}
NAMES = np.array(["ant", "bee", "cat", "dog"])


def _data(n_classes, seed=0):
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=n_classes, random_state=seed
    )
    return 3.0 * X + 1.0, y


def _held_out(X, n_train=200):
    """The rows not fitted on, plus some of them scaled far out."""
    far = X[n_train : n_train + 10]
    return np.vstack([X[n_train:], 20.0 * far, 200.0 * far])


def _run(model, X, dtype=np.float32, options=None):
    """The outputs of ONNX Runtime on X for the model converted in memory."""
    onx = skl2onnx.to_onnx(model, X[:1].astype(dtype), options=options)
    session = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X.astype(dtype)})


def _assert_reproduces(model, X, dtype=np.float32, zipmap=False):
    """ONNX's label equals predict, its probabilities predict_proba; the largest gap.

    Both see the same rows: X in ``dtype`` (float32 rounds X, and the estimator computes
    on the rounded rows in float64, as the graph does).
    """
    X = X.astype(dtype)
    clf = model[-1] if hasattr(model, "steps") else model
    outputs = _run(model, X, dtype, {type(clf): {"zipmap": zipmap}})
    label = outputs[0]
    keys = clf.classes_.tolist()
    if zipmap is True:
        proba = np.array([[row[key] for key in keys] for row in outputs[1]])
    elif zipmap == "columns":
        proba = np.column_stack(outputs[1:])
    else:
        (proba,) = outputs[1:]
        assert proba.dtype == dtype
    expected = model.predict(X)
    expected = expected.toarray() if sp.issparse(expected) else expected
    assert label.shape == expected.shape
    np.testing.assert_array_equal(label, expected)
    assert label.dtype == (object if expected.dtype.kind == "U" else np.int64)
    gap = np.abs(proba - model.predict_proba(X)).max()
    assert gap <= ATOL[dtype]
    return gap


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("names", [False, True], ids=["int", "str"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_softmax(n_classes, names, dtype):
    X, y = _data(n_classes)
    labels = NAMES[y] if names else y + 10
    model = SoftmaxRegressionClassifier().fit(X[:200], labels[:200])
    assert model.coef_.shape[0] == (1 if n_classes == 2 else n_classes)
    _assert_reproduces(model, _held_out(X), dtype)


def test_softmax_fitted_in_float32_and_on_target_distributions():
    X, y = _data(3)
    X32 = X.astype(np.float32)
    model = SoftmaxRegressionClassifier().fit(X32[:200], y[:200])
    assert model.coef_.dtype == np.float32
    _assert_reproduces(model, _held_out(X32))
    T = np.eye(3)[y] * 0.8 + 0.2 / 3  # soft targets, classes named by classes=
    soft = SoftmaxRegressionClassifier(classes=["x", "y", "z"]).fit(X[:200], T[:200])
    _assert_reproduces(soft, _held_out(X))


@pytest.mark.parametrize("zipmap", [True, False, "columns"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_softmax_in_a_pipeline(n_classes, zipmap):
    X, y = _data(n_classes, seed=1)
    pipe = make_pipeline(StandardScaler(), SoftmaxRegressionClassifier(C=10.0))
    pipe.fit(X[:200], NAMES[y[:200]])
    _assert_reproduces(pipe, _held_out(X), zipmap=zipmap)


def _multilabel(n_labels=4):
    X, Y = make_multilabel_classification(
        n_samples=300, n_features=6, n_classes=n_labels, random_state=0
    )
    return X, Y


@pytest.mark.parametrize(
    "dtype, zipmap",
    [(np.float32, False), (np.float32, True), (np.float32, "columns"), (np.float64, False)],
)
def test_sigmoid_indicator_with_per_label_thresholds(dtype, zipmap):
    X, Y = _multilabel()
    model = SigmoidMultiLabelClassifier(threshold=[0.3, 0.5, 0.7, 0.15]).fit(X[:200], Y[:200])
    _assert_reproduces(model, _held_out(X), dtype, zipmap)


def test_sigmoid_indicator_of_named_labels_and_sparse_y():
    pd = pytest.importorskip("pandas")
    X, Y = _multilabel(3)
    frame = pd.DataFrame(Y, columns=["red", "green", "blue"])
    named = SigmoidMultiLabelClassifier(threshold=[0.4, 0.6, 0.5]).fit(X[:200], frame[:200])
    assert named.classes_.tolist() == ["red", "green", "blue"]
    _assert_reproduces(named, _held_out(X), zipmap=True)  # probabilities keyed by name
    # predict returns CSR for a sparse Y; ONNX gives the same values as a dense matrix
    csr = SigmoidMultiLabelClassifier().fit(X[:200], sp.csr_matrix(Y[:200]))
    assert sp.issparse(csr.predict(X[:2]))
    _assert_reproduces(csr, _held_out(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.8])
def test_sigmoid_binary_labels(threshold, dtype):
    X, y = _data(2, seed=2)
    model = SigmoidMultiLabelClassifier(threshold=threshold).fit(X[:200], NAMES[y[:200] + 1])
    assert model.y_type_ == "binary"
    _assert_reproduces(model, _held_out(X), dtype)


@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("names", [False, True], ids=["int", "str"])
def test_sigmoid_multiclass_labels(names, zipmap):
    X, y = _data(4, seed=3)
    model = SigmoidMultiLabelClassifier().fit(X[:200], NAMES[y[:200]] if names else y[:200])
    assert model.y_type_ == "multiclass"
    # rows whose two largest sigmoids are 1 in float32 (and beyond 1 - 1e-16 in float64):
    # the label is decided on float64 probabilities, with an accurate log_expit
    second = np.sort(model.decision_function(_held_out(X)), axis=1)[:, -2]
    assert np.any(second > 17) and np.any(second > 37)
    _assert_reproduces(model, _held_out(X), zipmap=zipmap)
    _assert_reproduces(model, _held_out(X), np.float64)


def test_sigmoid_multiclass_with_two_sigmoids_near_1():
    """Logits of 18 to 33: two sigmoids that are 1 in float32 (a float32 graph would tie
    them and take the first) and that float64 probabilities order by millions of ulps."""
    X, y = _data(4, seed=3)
    model = SigmoidMultiLabelClassifier().fit(X[:200], y[:200])
    logits = np.array(
        [[20.0, 25.0, -40.0, -5.0], [-3.0, 30.0, 28.0, 2.0], [33.0, -30.0, 18.0, 31.0]]
    )
    rows = np.linalg.lstsq(model.coef_, (logits - model.intercept_).T, rcond=None)[0].T
    np.testing.assert_allclose(model.decision_function(rows), logits, atol=1e-9)
    np.testing.assert_array_equal(model.predict(rows), [1, 1, 0])  # the largest logit
    for dtype in (np.float32, np.float64):
        _assert_reproduces(model, rows, dtype)


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: SoftmaxRegressionClassifier(fit_intercept=False).fit(X, y % 3),
        lambda X, y: SoftmaxRegressionClassifier(fit_intercept=False).fit(X, y % 2),
        lambda X, y: SigmoidMultiLabelClassifier(fit_intercept=False).fit(X, y % 2),
        lambda X, y: SigmoidMultiLabelClassifier(fit_intercept=False).fit(X, y % 3),
        lambda X, y: SigmoidMultiLabelClassifier(fit_intercept=False).fit(
            X, np.column_stack([y % 2, y // 2])
        ),
    ],
    ids=["softmax-3", "softmax-2", "sigmoid-binary", "sigmoid-multiclass", "sigmoid-indicator"],
)
def test_zero_logits_tie_as_predict_decides(make):
    """All logits 0: equal probabilities go to the first class, and a probability of
    exactly 0.5 is not above a threshold of 0.5."""
    X, y = _data(4, seed=4)
    model = make(X[:200], y[:200])
    zeros = np.zeros((3, X.shape[1]))
    assert np.all(model.decision_function(zeros) == 0)
    predicted = model.predict(zeros)
    assert np.all(predicted == (0 if predicted.ndim == 2 else model.classes_[0]))
    for dtype in (np.float32, np.float64):
        _assert_reproduces(model, np.vstack([zeros, _held_out(X)]), dtype)


def test_class_label_options():
    X, y = _data(3)
    model = SoftmaxRegressionClassifier().fit(X[:200], NAMES[y[:200]])
    label, _ = _run(model, X[200:], options={"nocl": True, "zipmap": False})
    np.testing.assert_array_equal(label, np.searchsorted(model.classes_, model.predict(X[200:])))
    *_, classes = _run(model, X[200:], options={"zipmap": False, "output_class_labels": True})
    np.testing.assert_array_equal(classes, model.classes_)


def test_integral_float_and_boolean_classes_give_int64_labels():
    X, y = _data(2)
    for labels in (y.astype(np.float64) * 2.0, y.astype(bool)):
        model = SoftmaxRegressionClassifier().fit(X[:200], labels[:200])
        label, _ = _run(model, X[200:], options={"zipmap": False})
        assert label.dtype == np.int64
        np.testing.assert_array_equal(label, model.predict(X[200:]).astype(np.int64))


def test_unsupported_models_raise_clear_errors():
    X, y = _data(3)
    T = np.eye(3)[y]
    for classes in ([0.5, 1.5, 2.5], np.array(["a", 1, 2], dtype=object)):
        soft = SoftmaxRegressionClassifier(classes=classes).fit(X, T)
        with pytest.raises(ValueError, match="ONNX labels are int64 or strings"):
            skl2onnx.to_onnx(soft, X[:1].astype(np.float32), options={"zipmap": False})
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(SoftmaxRegressionClassifier(), X[:1].astype(np.float32))
    model = SoftmaxRegressionClassifier().fit(X, y)
    with pytest.raises(ValueError, match="ONNX input has 5 features, but .* fitted on 6"):
        skl2onnx.to_onnx(model, X[:1, :5].astype(np.float32))
    with pytest.raises(RuntimeError, match="Int64TensorType"):
        skl2onnx.to_onnx(model, X[:1].astype(np.int64))
    with pytest.raises(ValueError, match="ZipMap takes float32 probabilities only"):
        skl2onnx.to_onnx(model, X[:1])  # float64 with the default zipmap=True


def test_the_model_is_built_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = _data(3)
    _assert_reproduces(SoftmaxRegressionClassifier().fit(X, y), X)
    assert list(tmp_path.iterdir()) == []
