"""pytest runs the doctests of every module of the package (``--doctest-modules``):
skmultinomial/onnx.py raises ImportError without the [onnx] extra, by design, so it is
not collected then (tests/test_onnx.py skips on its own)."""

from importlib.util import find_spec

collect_ignore = (
    [] if find_spec("skl2onnx") and find_spec("onnxruntime") else ["skmultinomial/onnx.py"]
)
