"""ONNX export through skl2onnx: ``import skmultinomial.onnx`` registers both estimators.

After the import, ``skl2onnx.to_onnx(model, X[:1])`` converts a fitted
:class:`~skmultinomial.SoftmaxRegressionClassifier` or
:class:`~skmultinomial.SigmoidMultiLabelClassifier`, alone or as the last step of a
Pipeline, with skl2onnx's classifier options: ``zipmap`` (True, False or "columns"),
``nocl`` and ``output_class_labels``. The graph has skl2onnx's two outputs, the label
and the probabilities, in the input's precision (float32 for float32 ``X[:1]``, float64
for float64).

The graph computes as the estimators do, in float64 whatever the input: the logits
``X @ coef_.T + intercept_`` (Gemm) in the precision of ``X`` and ``coef_`` together
(float32 only for a model fitted on float32 data and float32 input, as
``decision_function``), then in float64 ``log_softmax`` or ``log_expit`` (written as
``min(z, 0) - log1p(exp(-|z|))``, finite for any finite logit) and ``exp``; a float32
graph casts the probabilities to float32 for its output only. The label is read off the
float64 probabilities as ``predict`` reads it off ``predict_proba``: the first of the
most probable classes (ArgMax), or a probability strictly above the float64 threshold.
Deciding on float32 probabilities would not do: a one-vs-rest sigmoid saturates at 1 in
float32 from a logit of about 17, so two classes far out would tie where float64 still
orders them.

What the label output holds:

- ``SoftmaxRegressionClassifier``, and ``SigmoidMultiLabelClassifier`` fitted on 1-D
  labels: ``classes_[...]``, int64 for integer (or boolean, or integral float) classes,
  strings for string classes. Other classes (non-integral floats, mixed types) raise.
- ``SigmoidMultiLabelClassifier`` fitted on 2-D Y: the int64 0/1 indicator matrix, also
  for a model fitted on a sparse Y, whose ``predict`` returns the same values as CSR
  (ONNX Runtime has no sparse outputs). The probabilities are per label; ``zipmap``
  maps each label (``classes_``: indices or column names) to its probability, as
  skl2onnx does for a multi-label ``MLPClassifier``.

Conversion raises for ``zipmap=True`` with float64 input (ONNX's ZipMap takes float32
only), for input other than float32 or float64, and for a model that is not fitted.

Examples
--------
>>> import numpy as np
>>> import onnxruntime as rt
>>> from skl2onnx import to_onnx
>>> from sklearn.datasets import load_iris
>>> import skmultinomial.onnx  # noqa: F401, registers the converters
>>> from skmultinomial import SoftmaxRegressionClassifier
>>> X, y = load_iris(return_X_y=True)
>>> X = X.astype(np.float32)
>>> model = SoftmaxRegressionClassifier().fit(X, y)
>>> onx = to_onnx(model, X[:1], options={"zipmap": False})
>>> session = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
>>> label, proba = session.run(None, {"X": X})
>>> bool(np.array_equal(label, model.predict(X)))
True
>>> bool(np.abs(proba - model.predict_proba(X)).max() < 1e-5)
True
"""

import numpy as np

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types
    from skl2onnx.common.utils_classifier import get_label_classes
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'skmultinomial.onnx needs skl2onnx and onnxruntime: pip install "skmultinomial[onnx]"'
    ) from exc
from sklearn.utils.validation import check_is_fitted

from ._sigmoid import SigmoidMultiLabelClassifier
from ._softmax import SoftmaxRegressionClassifier

__all__ = ["convert", "parser", "shape_calculator"]

OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [False, True],
    "output_class_labels": [False, True],
}


def parser(scope, model, inputs, custom_parsers=None):
    """The skl2onnx parser: checks the model, then declares the outputs as for any classifier.

    skl2onnx's own classifier parser (the one ``update_registered_converter`` installs
    for the "zipmap" option) declares the label and probabilities, then the ZipMap or
    the class labels, which read ``classes_``: the checks come first so that an unfitted
    model or unsupported classes fail with a clear message, not inside skl2onnx.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        The scope of the conversion.
    model : SoftmaxRegressionClassifier or SigmoidMultiLabelClassifier
        The model to convert.
    inputs : list of skl2onnx.common._topology.Variable
        Its input.
    custom_parsers : dict, default=None
        Parsers of other models, passed on.

    Returns
    -------
    list of skl2onnx.common._topology.Variable
        The outputs: label and probabilities (a ZipMap of them unless ``zipmap=False``).
    """
    check_is_fitted(model)
    _label_values(model.classes_, model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)


def shape_calculator(operator):
    """The skl2onnx shape calculator: the types and shapes of the label and probabilities.

    Parameters
    ----------
    operator : skl2onnx.common._topology.Operator
        The operator of a fitted estimator, with one float or double input.
    """
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    check_input_and_output_types(operator, good_input_types=[FloatTensorType, DoubleTensorType])
    model = operator.raw_operator
    n_rows, n_columns = operator.inputs[0].type.shape
    if isinstance(n_columns, int) and n_columns != model.n_features_in_:
        raise ValueError(
            f"The ONNX input has {n_columns} features, but {type(model).__name__} was "
            f"fitted on {model.n_features_in_}."
        )
    zipmap = operator.scope_inst.get_options(model, dict(zipmap=True))["zipmap"]
    if zipmap is True and isinstance(operator.inputs[0].type, DoubleTensorType):
        raise ValueError(
            "ONNX's ZipMap takes float32 probabilities only: convert float64 input with "
            'options={"zipmap": False} (or "columns"), or convert float32 input.'
        )
    n_outputs = len(model.classes_)
    if _kind(model) == "multilabel-indicator":
        label_type = Int64TensorType([n_rows, n_outputs])
    else:
        _, proto = _label_values(get_label_classes(operator.scope_inst, model), model)
        tensor_type = Int64TensorType if proto == TensorProto.INT64 else StringTensorType
        label_type = tensor_type([n_rows])
    operator.outputs[0].type = label_type
    operator.outputs[1].type = type(operator.inputs[0].type)([n_rows, n_outputs])


def convert(scope, operator, container):
    """The skl2onnx converter: the graph from the input to the label and probabilities.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        Gives unique names.
    operator : skl2onnx.common._topology.Operator
        The operator of a fitted estimator, its outputs typed by :func:`shape_calculator`.
    container : skl2onnx.common._container.ModelComponentContainer
        Receives the nodes and initializers.
    """
    model = operator.raw_operator
    kind = _kind(model)
    graph = _Graph(scope, container)
    logits = _logits(graph, model, operator.inputs[0])
    if kind == "softmax" and model.coef_.shape[0] > 1:
        log_proba = graph.node("LogSoftmax", [logits], axis=1)
    else:
        log_proba = _log_expit(graph, logits)
    if kind == "multiclass":
        # one-vs-rest sigmoids normalised over the classes, in log space as predict_proba
        log_proba = graph.node("LogSoftmax", [log_proba], axis=1)
    proba = graph.node("Exp", [log_proba])
    output_type = guess_proto_type(operator.inputs[0].type)
    if output_type == TensorProto.DOUBLE:
        graph.node("Identity", [proba], output=operator.outputs[1].full_name)
    else:
        graph.node("Cast", [proba], output=operator.outputs[1].full_name, to=output_type)
    label = operator.outputs[0].full_name
    if kind == "multilabel-indicator":
        # The indicator matrix: each probability strictly above its label's threshold.
        above = graph.node("Greater", [proba, graph.constant(model._thresholds())])
        graph.node("Cast", [above], output=label, to=TensorProto.INT64)
        return
    if kind == "binary":
        positive = graph.node("Gather", [proba, graph.constant(1, TensorProto.INT64)], axis=1)
        above = graph.node("Greater", [positive, graph.constant(model._thresholds()[0])])
        index = graph.node("Cast", [above], to=TensorProto.INT64)
    else:
        # ArgMax keeps the first of equal maxima, as np.argmax does in predict.
        index = graph.node("ArgMax", [proba], axis=1, keepdims=0)
    values, proto = _label_values(get_label_classes(scope, model), model)
    graph.node("Gather", [graph.constant(values, proto), index], output=label, axis=0)


def _logits(graph, model, X):
    """The float64 logits, computed as ``decision_function`` computes them: in the
    precision of ``X`` and ``coef_`` together (float32 only when both are), then float64.

    A single logit ``z`` (binary models) becomes the two logits ``(-z, z)``, whose
    ``log_expit`` are the two log-probabilities of ``predict_log_proba``.
    """
    single = guess_proto_type(X.type) == TensorProto.FLOAT
    if single and model.coef_.dtype == np.float32:
        parameters = [graph.constant(p, TensorProto.FLOAT) for p in (model.coef_, model.intercept_)]
        logits = graph.node("Gemm", [X.full_name, *parameters], transB=1)
        logits = graph.node("Cast", [logits], to=TensorProto.DOUBLE)
    else:
        X64 = graph.node("Cast", [X.full_name], to=TensorProto.DOUBLE) if single else X.full_name
        parameters = [graph.constant(model.coef_), graph.constant(model.intercept_)]
        logits = graph.node("Gemm", [X64, *parameters], transB=1)
    if model.coef_.shape[0] == 1:
        logits = graph.node("Concat", [graph.node("Neg", [logits]), logits], axis=1)
    return logits


def _log_expit(graph, z):
    """``log(expit(z)) = min(z, 0) - log1p(exp(-|z|))``, as scipy's ``log_expit``: finite
    for any finite ``z`` (``Log(Sigmoid(z))`` gives ``-inf``), and accurate to a few
    rounding steps where it is tiny (``z`` above 17), whose last bits decide between
    one-vs-rest classes whose sigmoids are both within 1e-16 of 1 as in ``predict``."""
    decay = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [z])])])
    return graph.node("Sub", [graph.node("Min", [z, graph.constant(0.0)]), _log1p(graph, decay)])


def _log1p(graph, x):
    """``log1p(x)`` for ``x >= 0``, which ONNX lacks: ``log(u) * x / (u - 1)`` with ``u =
    1 + x`` is accurate to a few rounding steps (Goldberg, 1991), where ``log(1 + x)``
    loses the digits of ``x`` that ``1 + x`` drops; ``u == 1`` where ``x`` is below the
    resolution of 1, and there ``log1p(x)`` is ``x``."""
    u = graph.node("Add", [x, graph.constant(1.0)])
    step = graph.node("Sub", [u, graph.constant(1.0)])
    ratio = graph.node("Div", [graph.node("Mul", [graph.node("Log", [u]), x]), step])
    exact = graph.node("Equal", [step, graph.constant(0.0)])  # 0/0 in ratio, not used
    return graph.node("Where", [exact, x, ratio])


class _Graph:
    """Adds the nodes and constants of one converter to skl2onnx's container."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def node(self, op_type, inputs, output=None, **attributes):
        """Add the node ``op_type(*inputs)``; return the name of its output."""
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        name = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, inputs, output, name=name, **attributes)
        return output

    def constant(self, values, proto=TensorProto.DOUBLE):
        """An initializer holding ``values`` as ``proto`` (float64 by default)."""
        values = np.asarray(values)
        content = values.ravel().tolist()
        if proto == TensorProto.STRING:
            content = [str(value).encode("utf-8") for value in content]
        elif proto == TensorProto.FLOAT:
            content = values.astype(np.float32).ravel().tolist()
        name = self.scope.get_unique_variable_name("constant")
        self.container.add_initializer(name, proto, list(values.shape), content)
        return name


def _kind(model):
    """The sigmoid model's ``y_type_``, or "softmax"."""
    return getattr(model, "y_type_", "softmax")


def _label_values(classes, model):
    """``classes`` as the values of the label tensor and their ONNX type (int64 or string)."""
    classes = np.asarray(classes)
    if classes.dtype == np.bool_ or np.issubdtype(classes.dtype, np.integer):
        return classes.astype(np.int64), TensorProto.INT64
    if np.issubdtype(classes.dtype, np.floating) and np.all(classes == np.round(classes)):
        return classes.astype(np.int64), TensorProto.INT64  # as skl2onnx does
    if all(isinstance(value, str) for value in classes.tolist()):
        return classes.astype(str), TensorProto.STRING
    raise ValueError(
        f"ONNX labels are int64 or strings, but the classes_ of {type(model).__name__} are "
        f"{classes.tolist()!r}: give it integer or string classes."
    )


for _estimator in (SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier):
    update_registered_converter(
        _estimator,
        f"Skmultinomial{_estimator.__name__}",
        shape_calculator,
        convert,
        parser=parser,
        options=OPTIONS,
    )
