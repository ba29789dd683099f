"""Check what ``python -m build`` made in dist/: the wheel holds the package alone, and
the sdist no generated output (a docs build, the gallery, compiled files).

``python .ci/check_dist.py dist`` prints the wheel's files and exits non-zero on a
stray one.
"""

import sys
import tarfile
import zipfile
from pathlib import Path

dist = Path(sys.argv[1])
(wheel,) = dist.glob("*.whl")
(sdist,) = dist.glob("*.tar.gz")
version = wheel.name.split("-")[1]
problems = []

names = zipfile.ZipFile(wheel).namelist()
for name in names:
    print(f"  {name}")
    if not name.startswith(("skmultinomial/", f"skmultinomial-{version}.dist-info/")):
        problems.append(f"{wheel.name} holds {name}, which is not the package")
if "skmultinomial/__main__.py" not in names:
    problems.append(f"{wheel.name} has no skmultinomial/__main__.py (the demo)")

generated = ("docs/_build/", "docs/auto_examples/", "docs/generated/", "__pycache__", ".pyc")
with tarfile.open(sdist) as archive:
    for name in archive.getnames():
        if any(part in name for part in generated):
            problems.append(f"{sdist.name} holds generated output: {name}")

print(f"{wheel.name}: {len(names)} files; {sdist.name}: checked")
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
