"""Print pip constraints that pin every dependency setup.cfg declares to its minimum.

``python .ci/minimum_versions.py test dask > constraints.txt`` pins install_requires and
the named extras: ``name>=X`` becomes ``name==X``, and an exact pin ``name==X`` (PyTorch's
CPU build) stays. CI installs the package with these constraints and runs the suite, so
that the declared minimums are the tested ones.
"""

import configparser
import pathlib
import re
import sys

config = configparser.ConfigParser()
config.read(pathlib.Path(__file__).resolve().parent.parent / "setup.cfg")
requirements = config["options"]["install_requires"].split()
for extra in sys.argv[1:]:
    requirements += config["options.extras_require"][extra].split()
pins = {}
for requirement in requirements:
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?(?:>=|==)([0-9][0-9.]*)", requirement)
    if match is None:
        sys.exit(f"setup.cfg: {requirement!r} declares no minimum (name>=version or name==version)")
    name, _, version = match.groups()
    pins[name.lower()] = version
for name, version in sorted(pins.items()):
    print(f"{name}=={version}")
