"""Sphinx configuration of the skmultinomial documentation.

Build (from the repository root, after ``python -m pip install ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The user guide pages include the sections of README.md (one text, two places to read it);
the gallery runs ``examples/plot_*.py``; the API reference is generated from the numpydoc
docstrings.
"""

import os

import skmultinomial

os.environ.setdefault("MPLBACKEND", "Agg")

project = "skmultinomial"
author = "the skmultinomial developers"
copyright = "the skmultinomial developers, BSD-3-Clause"  # noqa: A001 (Sphinx's name)
release = skmultinomial.__version__  # the one place the version is written
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "generated/backreferences"]
templates_path = ["_templates"]

# Every cross-reference must resolve: a broken :class: or :meth: in a docstring fails the
# build under -W. Nothing is fetched from the network (no intersphinx), so references to
# other projects' objects are written as literals in the docstrings.
nitpicky = True

# API reference: one page per class and per module, from the docstrings.
autosummary_generate = True
autosummary_ignore_module_all = False  # a module's page lists its __all__
autodoc_typehints = "none"  # the types are in the numpydoc "Parameters" sections
numpydoc_show_class_members = False  # autodoc lists the members; numpydoc formats them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Docstrings that would read as broken on their page fail the build: parameters missing,
# unknown, out of order or without a type or description; no Returns section or an
# empty one; a summary that is not a sentence; bad whitespace.
numpydoc_validation_checks = set(
    "GL01 GL02 GL03 GL05 GL06 GL07 GL09 GL10 SS01 SS02 SS03 SS06"
    " PR01 PR02 PR03 PR04 PR05 PR06 PR07 PR08 PR09 PR10 RT01 RT03 RT04 RT05 YD01".split()
)

highlight_language = "none"  # unlabelled blocks (printed output, formulas) stay plain
toc_object_entries_show_parents = "hide"  # "fit", not "SoftmaxRegressionClassifier.fit"

# Markdown (MyST): the README's fenced code, tables and headings as they are on GitHub.
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every example is run, its figures shown
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skmultinomial",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "show_memory": False,
    "abort_on_example_error": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skmultinomial {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False


def _skip_inherited_from_sklearn(app, what, name, obj, skip, options):
    """The class pages document the methods this package defines; the estimator API it
    inherits from scikit-learn (get_params, set_params, set_*_request, ...) is
    documented by scikit-learn, and its docstrings refer to scikit-learn's own pages."""
    module = getattr(obj, "__module__", None) or "skmultinomial"
    if what == "class" and not module.startswith("skmultinomial"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_inherited_from_sklearn)
