"""Linear probabilistic classifiers fitted by maximum likelihood, for scikit-learn.

- :class:`SoftmaxRegressionClassifier`: multinomial logistic (softmax) regression,
  exactly one class per sample.
- :class:`SigmoidMultiLabelClassifier`: an independent sigmoid per label, any number of
  labels per sample.
- :class:`SoftmaxRegressionCV` and :class:`SigmoidMultiLabelCV`: the same models with C
  chosen by cross-validation along a warm-started path (one C per label for the
  sigmoids).

Both minimise a penalised negative log-likelihood with L-BFGS through one shared
loss module.
"""

from ._sigmoid import SigmoidMultiLabelClassifier
from ._sigmoid_cv import SigmoidMultiLabelCV
from ._softmax import SoftmaxRegressionClassifier
from ._softmax_cv import SoftmaxRegressionCV

__version__ = "0.1.0"

__all__ = [
    "SigmoidMultiLabelCV",
    "SigmoidMultiLabelClassifier",
    "SoftmaxRegressionCV",
    "SoftmaxRegressionClassifier",
    "__version__",
]
