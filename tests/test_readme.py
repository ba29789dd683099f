"""The README's Python snippets run as they are, each as a script of its own."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_readme_has_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(code, tmp_path):
    if "dask" in code:
        pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    if "array_api_dispatch=True" in code and not _array_api_dispatch_available():
        pytest.skip("array-API dispatch needs SciPy >= 1.14 and array-api-compat (README)")
    script = tmp_path / "snippet.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def _array_api_dispatch_available():
    """What the README's array-API snippet needs: scikit-learn's own check, in a fresh
    interpreter with ``SCIPY_ARRAY_API=1`` set before SciPy is imported, as the snippet
    does."""
    check = (
        "import os; os.environ['SCIPY_ARRAY_API'] = '1'\n"
        "from sklearn.utils._array_api import _check_array_api_dispatch\n"
        "_check_array_api_dispatch(True)"
    )
    return subprocess.run([sys.executable, "-c", check], capture_output=True).returncode == 0
