"""The wheel and the sdist that ``python -m build`` makes install and work.

The checkout's files (those git tracks or would track) are copied to a
temporary folder and built there without build isolation (setuptools is
already here, and nothing is downloaded). The wheel is then installed,
without its dependencies, in a fresh virtual environment that sees the
dependencies of this environment through a ``.pth`` line appended after its
own site-packages, so that the package it imports is the installed one, not
the checkout. About ten seconds, most of them importing torch twice.
"""

import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import sklearn_openset

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("build", reason="the test extra's 'build' builds the package")


def _run(*args, **kwargs):
    result = subprocess.run(args, check=False, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _source_files():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know the project's files")
    listed = _run(
        "git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT
    )
    return [name for name in listed.splitlines() if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    _run(
        sys.executable,
        "-m",
        "build",
        "--no-isolation",
        "--skip-dependency-check",
        "--outdir",
        str(out),
        str(source),
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


def _packages():
    return sorted(
        str(path.parent.relative_to(ROOT))
        for path in (ROOT / "sklearn_openset").rglob("__init__.py")
        if "__pycache__" not in path.parts
    )


def test_wheel_holds_every_package_the_license_and_the_version(dist):
    wheel, _ = dist
    version = sklearn_openset.__version__
    assert wheel.name == f"sklearn_openset-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"sklearn_openset-{version}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    missing = [p for p in _packages() if f"{p}/__init__.py" not in names]
    assert not missing, f"packages left out of the wheel: {missing}"
    assert f"{info}/licenses/LICENSE" in names
    assert f"Version: {version}\n" in metadata
    assert "License: BSD-3-Clause\n" in metadata
    assert "sklearn-openset = sklearn_openset._cli:main" in entry_points
    # Nothing of the checkout beyond the package.
    assert all(name.startswith(("sklearn_openset/", f"{info}/")) for name in names), (
        sorted(n for n in names if not n.startswith("sklearn_openset"))
    )


def test_sdist_holds_the_sources_and_the_license(dist):
    _, sdist = dist
    top = f"sklearn_openset-{sklearn_openset.__version__}"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    for name in ("LICENSE", "README.rst", "setup.py", "pyproject.toml"):
        assert f"{top}/{name}" in names
    missing = [p for p in _packages() if f"{top}/{p}/__init__.py" not in names]
    assert not missing, f"packages left out of the sdist: {missing}"


def test_wheel_installs_in_a_fresh_environment(dist, tmp_path):
    wheel, _ = dist
    env = tmp_path / "venv"
    venv.create(env, with_pip=False, symlinks=True)
    python = env / "bin" / "python"
    site = Path(
        _run(
            str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
        ).strip()
    )
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--no-deps",
        "--no-index",
        "--quiet",
        str(wheel),
    )
    # The dependencies (numpy, torch, ...) from this environment, after the
    # fresh one's own site-packages.
    outer = [p for p in sys.path if p.endswith("site-packages")]
    (site / "zz_outer_dependencies.pth").write_text("\n".join(outer) + "\n")
    smoke = (
        "import pathlib, sklearn_openset as s\n"
        "from sklearn_openset.datasets import make_open_set_blobs\n"
        f"assert pathlib.Path(s.__file__).is_relative_to({str(site)!r}), s.__file__\n"
        "X, Xt, y, yt = make_open_set_blobs(random_state=0)\n"
        "print(s.__version__, s.MSPClassifier().fit(X, y).score(Xt, yt) > 0.5)\n"
    )
    out = _run(str(python), "-c", smoke, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert out.split() == [sklearn_openset.__version__, "True"]
    cli = _run(str(env / "bin" / "sklearn-openset"), "--version", cwd=tmp_path)
    assert cli.strip() == sklearn_openset.__version__
