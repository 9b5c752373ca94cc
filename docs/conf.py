"""Sphinx configuration of the sklearn-openset documentation.

Build (warnings are errors, the gallery is executed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Everything here works offline: no intersphinx inventory is fetched, the theme
loads no remote asset at build time, and the built pages render their math
without a network: MathJax is copied into the site by sphinx-mathjax-offline
(``pip install -e ".[docs]"``) instead of being loaded from a CDN. The gallery
reads the benchmark data of the data home: ``SKLEARN_OPENSET_DATA``, set here
to ``../shared/data`` beside the checkout when the variable is unset and that
folder exists (CI's layout); elsewhere the CLINC150 example downloads its data
(``fetch_clinc150``) or fails with an error that names the URL.
"""

import importlib
import inspect
import os
import re
import sys
from datetime import date
from pathlib import Path

# One BLAS / OpenMP thread while the gallery runs (set before numpy and torch
# are imported): the examples fit small models, which oversubscribed threads
# on a 2-core CI machine make ten times slower. An explicit setting wins.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# The benchmark data for the gallery: the library never looks beside the
# checkout, the docs build points the data home there explicitly.
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("SKLEARN_OPENSET_DATA", str(_SHARED_DATA))

import matplotlib

# The gallery draws into files only; never try to open a window.
matplotlib.use("agg")

# The package is normally installed (``pip install -e ".[docs]"``); this makes
# a build from a bare checkout work as well.
sys.path.insert(0, os.path.abspath(".."))

import sklearn_openset

# -- Project -----------------------------------------------------------------

project = "sklearn-openset"
author = "The sklearn-openset developers"
copyright = f"{date.today().year}, {author}"
release = sklearn_openset.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax 3 served from _static/mathjax of the built site (sets mathjax_path).
    "sphinx-mathjax-offline",
    "sphinx.ext.doctest",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "Thumbs.db",
    ".DS_Store",
    "_api_*.rst",
]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- Generated tables of the API reference ------------------------------------

# The tables of the estimators, of the building blocks (nn, evt) and of the
# feature extractors in api.rst, and the methods table of index.rst, are made
# from the modules' ``__all__``, so that they list exactly what the package
# exports: a name that does not exist would break the -W build, a missing one
# would leave the reference stale. Each table is written next to api.rst as
# ``_api_<name>.rst`` and included; docs/.gitignore keeps these files out of
# git and exclude_patterns keeps them from being pages of their own.
DOCS_DIR = Path(__file__).resolve().parent

# The modules whose exported estimators are the library's methods (index.rst's
# table): the classifiers, and the active-learning strategies once they exist.
METHOD_MODULES = ("sklearn_openset", "sklearn_openset.active_learning")


def _autosummary(module, names, template):
    if not names:
        return []
    return [
        f".. currentmodule:: {module}",
        "",
        ".. autosummary::",
        "   :toctree: generated/",
        f"   :template: autosummary/{template}.rst",
        "",
        *(f"   {name}" for name in names),
        "",
    ]


def _api_table(module_name, *, classes_only=False):
    """reST of the autosummary tables of ``module_name.__all__``."""
    import torch

    module = importlib.import_module(module_name)
    objects = {name: getattr(module, name) for name in module.__all__}
    classes = [name for name, obj in objects.items() if inspect.isclass(obj)]
    torch_modules = [n for n in classes if issubclass(objects[n], torch.nn.Module)]
    lines = [f".. Written by docs/conf.py from {module_name}.__all__.", ""]
    lines += _autosummary(
        module_name, [n for n in classes if n not in torch_modules], "class"
    )
    lines += _autosummary(module_name, torch_modules, "torch_module")
    if classes_only:
        return lines
    functions = [
        name
        for name, obj in objects.items()
        if callable(obj) and not inspect.isclass(obj)
    ]
    lines += _autosummary(module_name, functions, "function")
    data = [name for name in objects if name not in classes and name not in functions]
    for name in data:
        # Constants documented with a ``#:`` comment where they are defined.
        lines += [f".. autodata:: {module_name}.{name}", ""]
    return lines


def _method_estimators():
    """``(module name, class)`` of every exported estimator of METHOD_MODULES."""
    import pkgutil

    from numpydoc.docscrape import ClassDoc
    from sklearn.base import BaseEstimator

    # Subpackages of this checkout's package only (a module of the same name
    # installed elsewhere is not one of its methods).
    present = {"sklearn_openset"} | {
        f"sklearn_openset.{info.name}"
        for info in pkgutil.iter_modules(sklearn_openset.__path__)
    }
    found = {}
    for module_name in METHOD_MODULES:
        if module_name not in present:
            continue
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            # A method is an estimator with a paper (References); the
            # baselines and bases of a module are not rows of the table.
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and ClassDoc(obj)["References"]
            ):
                found.setdefault(obj, module_name)
    return [(module_name, cls) for cls, module_name in found.items()]


def _short_authors(authors):
    """``"Bendale & Boult"`` or ``"Miller et al."`` from a reference's authors."""
    authors = authors.strip().rstrip(",")
    if "et al." in authors:
        return authors
    names = [n for n in re.split(r",\s*|\s+and\s+", authors) if n]
    surnames = [name.split()[-1] for name in names]
    if len(surnames) <= 2:
        return " & ".join(surnames)
    return f"{surnames[0]} et al."


def _paper(cls):
    """The first reference of ``cls``'s docstring: authors, title, venue."""
    from numpydoc.docscrape import ClassDoc

    references = "\n".join(ClassDoc(cls)["References"])
    first = re.split(r"\n\.\. \[", references)[0]
    first = " ".join(re.sub(r"^\.\. \[[^]]*\]", "", first).split())
    match = re.match(r'(?P<authors>[^"]*)"(?P<title>[^"]*)"(?P<rest>.*)', first)
    if match is None:
        return first
    venue = re.sub(r"^\s*(\([^)]*\))?\s*,\s*", "", match["rest"])
    venue = re.split(r"\.(?:\s|$)", venue)[0]
    title = match["title"].rstrip(",")
    return f"{_short_authors(match['authors'])}, *{title}*, {venue}"


def _methods_table():
    """index.rst's table: one row per method, from the estimators' docstrings."""
    from numpydoc.docscrape import ClassDoc

    lines = [
        ".. Written by docs/conf.py from the estimators of "
        + " and ".join(METHOD_MODULES)
        + ".",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 25 45 30",
        "",
        "   * - method",
        "     - what it does",
        "     - paper",
    ]
    for module_name, cls in _method_estimators():
        name = cls.__name__
        short = re.sub(r"(OneVsRestClassifier|Classifier|Sampler)$", "", name)
        summary = " ".join(ClassDoc(cls)["Summary"])
        lines += [
            f"   * - {short} (:class:`~{module_name}.{name}`)",
            f"     - {summary}",
            f"     - {_paper(cls)}",
        ]
    return lines + [""]


def _write_api_tables():
    tables = {
        "sklearn_openset": _api_table("sklearn_openset", classes_only=True),
        "sklearn_openset.feature_extraction": _api_table(
            "sklearn_openset.feature_extraction"
        ),
        "sklearn_openset.nn": _api_table("sklearn_openset.nn"),
        "sklearn_openset.evt": _api_table("sklearn_openset.evt"),
        "methods": _methods_table(),
    }
    for module_name, lines in tables.items():
        text = "\n".join(lines)
        path = DOCS_DIR / f"_api_{module_name}.rst"
        # Rewrite only on change, so that an incremental build stays incremental.
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


_write_api_tables()

# -- autodoc / autosummary / numpydoc ------------------------------------------

# Stub pages of the API reference are written to docs/generated/ (gitignored),
# by the templates in docs/_templates/autosummary/. The list names every page
# plus the generated tables, which api.rst includes and are not pages.
autosummary_generate = sorted(
    str(path.relative_to(DOCS_DIR)) for path in DOCS_DIR.glob("*.rst")
)
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"

# The class template lists the methods itself.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- intersphinx ---------------------------------------------------------------

# Builds run offline (CI included): no inventory is fetched. References to
# scikit-learn objects become plain links to its site (see _link_sklearn
# below); those to numpy, torch, skorch... render as plain text.
intersphinx_mapping = {}
intersphinx_disabled_reftypes = ["*"]

# -- sphinx-gallery ------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Execute every plot_*.py script (and only those).
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    # "Examples using ..." mini-galleries on the API pages.
    "doc_module": ("sklearn_openset",),
    "backreferences_dir": os.path.join("generated"),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "show_memory": False,
    "download_all_examples": True,
    # Offline: no Binder / JupyterLite links.
    "binder": {},
    "jupyterlite": {},
}

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-openset {release}"
html_static_path = []
html_theme_options = {
    # Offline-safe: no version switcher JSON, no remote announcement, no
    # analytics; icon links are plain links (nothing is fetched at build).
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "icon_links": [],
    "show_prev_next": False,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": [], "user_guide": []}
html_show_sourcelink = False

# -- Docstrings inherited from scikit-learn ------------------------------------

# The estimators inherit get_params, set_params, get_metadata_routing and the
# set_*_request methods from scikit-learn; their docstrings point to labels
# and glossary terms of scikit-learn's own documentation, which an offline
# build cannot resolve. Those references become links to scikit-learn's site
# (plain links: nothing is fetched) or plain text.
SKLEARN_DOCS = "https://scikit-learn.org/stable/"
SKLEARN_LABELS = {
    "metadata_routing": "metadata_routing.html",
    "glossary": "glossary.html",
}
_SKLEARN_REF = re.compile(r":ref:`(?:([^`<]*?)\s*<([^`>]+)>|([^`]+))`")
_SKLEARN_TERM = re.compile(r":term:`(?:([^`<]*?)\s*<([^`>]+)>|([^`]+))`")


def _sklearn_ref(match):
    text, label, bare = match.groups()
    label = label or bare
    text = text or bare
    page = SKLEARN_LABELS.get(label)
    if page is None:
        return text
    return f"`{text} <{SKLEARN_DOCS}{page}>`__"


def _sklearn_term(match):
    text, term, bare = match.groups()
    text = text or bare
    anchor = "term-" + (term or bare).replace(" ", "-")
    return f"`{text} <{SKLEARN_DOCS}glossary.html#{anchor}>`__"


def _unlink_sklearn_references(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if not (module == "sklearn" or module.startswith("sklearn.")):
        return
    for i, line in enumerate(lines):
        line = _SKLEARN_REF.sub(_sklearn_ref, line)
        lines[i] = _SKLEARN_TERM.sub(_sklearn_term, line)


# -- Links to scikit-learn without intersphinx ---------------------------------

# intersphinx would need scikit-learn's inventory, fetched over the network.
# scikit-learn's public objects each have a page at a predictable address, so a
# reference to one that Sphinx cannot resolve becomes a plain link there.
_SKLEARN_OBJECT_TYPES = {"class", "func", "meth", "attr", "obj", "exc", "data"}


def _link_sklearn(app, env, node, contnode):
    from docutils import nodes

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or node.get("reftype") not in (
        _SKLEARN_OBJECT_TYPES
    ):
        return None
    if not target.startswith("sklearn.") or target.startswith("sklearn_openset"):
        return None
    page, anchor = target, ""
    if node["reftype"] in {"meth", "attr"}:
        page, anchor = target.rsplit(".", 1)[0], f"#{target}"
    if any(part.startswith("_") for part in page.split(".")):
        return None
    url = f"{SKLEARN_DOCS}modules/generated/{page}.html{anchor}"
    reference = nodes.reference("", "", internal=False, refuri=url, reftitle=target)
    reference.append(contnode)
    return reference


def setup(app):
    # Before numpydoc (priority 500) reads the docstring.
    app.connect("autodoc-process-docstring", _unlink_sklearn_references, priority=100)
    app.connect("missing-reference", _link_sklearn)
