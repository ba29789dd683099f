"""Linear probabilistic classifiers fitted by maximum likelihood, for scikit-learn.

- :class:`SoftmaxRegressionClassifier`: multinomial logistic (softmax) regression,
  exactly one class per sample.
- :class:`SigmoidMultiLabelClassifier`: an independent sigmoid per label, any number of
  labels per sample.

Both minimise a penalised negative log-likelihood with L-BFGS through one shared
loss module.
"""

from ._sigmoid import SigmoidMultiLabelClassifier
from ._softmax import SoftmaxRegressionClassifier

__version__ = "0.1.0"

__all__ = ["SigmoidMultiLabelClassifier", "SoftmaxRegressionClassifier", "__version__"]
