"""The release: one version, named by the changelog; an sdist that holds the source.

The wheel's contents, twine's check and the wheel's demo in a fresh environment are
checked by ``.ci/run`` (they need ``build``, ``twine`` and a new virtual environment).
"""

import configparser
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import skmultinomial

ROOT = Path(__file__).resolve().parent.parent


def test_the_changelog_names_the_version():
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    newest = next(i for i, h in enumerate(headings) if re.fullmatch(r"\d+\.\d+\.\d+\S*", h))
    assert headings[newest] == skmultinomial.__version__, (
        f"The newest version in CHANGELOG.md is {headings[newest]}, the package's "
        f"__version__ is {skmultinomial.__version__}"
    )
    assert headings[:newest] in ([], ["Unreleased"])  # above it, what is not released yet


def test_the_version_is_written_once():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert setup["metadata"]["version"] == "attr: skmultinomial.__version__"
    assert not re.search(r"^version\s*=", (ROOT / "pyproject.toml").read_text(), re.M)
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert re.search(r"^release = skmultinomial\.__version__", conf, re.M)


def _tracked_files():
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_the_sdist_holds_every_tracked_file(tmp_path):
    """Built (by setuptools, as ``python -m build`` builds it) from a copy of the tracked
    files: it must hold them all, but for the CI scripts and the git files."""
    pytest.importorskip("setuptools", minversion="61")
    tracked = _tracked_files()
    source = tmp_path / "source"
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; "
            "print(build_meta.build_sdist(sys.argv[1]))",
            str(out),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    sdist = out / built.stdout.split()[-1]
    assert sdist.name == f"skmultinomial-{skmultinomial.__version__}.tar.gz"
    top = f"skmultinomial-{skmultinomial.__version__}/"
    with tarfile.open(sdist) as archive:
        held = {m.name.removeprefix(top) for m in archive.getmembers() if m.isfile()}
    expected = {n for n in tracked if not n.startswith(".ci/") and n != ".gitignore"}
    assert sorted(expected - held) == []
    generated = {n for n in held - expected if not n.startswith("skmultinomial.egg-info/")}
    assert generated == {"PKG-INFO"}
