"""``harness.resources`` finds the shipped files in a checkout and in an installed package.

From a real wheel in a fresh virtualenv: tests/test_packaging_wheel.py. Here the two
layouts are laid out in tmp_path and ``files("harness")`` is pointed at them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness import resources
from harness.resources import CORPUS_SCRIPT, EXAMPLE_SLO, SHIPPED_DIR, SUITES, ResourceError

REPO = Path(harness.__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_lookup() -> object:
    resources.shipped_root.cache_clear()
    yield None
    resources.shipped_root.cache_clear()


def _point_at(monkeypatch: pytest.MonkeyPatch, package: Path) -> None:
    package.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(resources, "files", lambda name: package)


def _lay_out(root: Path) -> None:
    for relative in (CORPUS_SCRIPT, EXAMPLE_SLO, f"{SUITES}/smoke/a.yaml"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("x\n")


def test_in_this_checkout_the_top_level_folders_are_the_shipped_ones() -> None:
    assert resources.shipped_root() == REPO
    assert resources.shipped_path(CORPUS_SCRIPT) == REPO / "corpora" / "builtin" / "script.yaml"
    assert resources.shipped_path(SUITES) == REPO / "suites"
    assert resources.shipped_path(EXAMPLE_SLO) == REPO / "ci" / "slo.toml"


def test_an_installed_package_uses_its_own_copy_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "harness"
    _lay_out(package / SHIPPED_DIR)
    _lay_out(tmp_path / "site-packages")  # a stray top level beside it is not looked at
    (tmp_path / "site-packages" / "pyproject.toml").write_text("")
    _point_at(monkeypatch, package)
    assert resources.shipped_root() == package / SHIPPED_DIR
    assert resources.shipped_path(f"{SUITES}/smoke").is_dir()


def test_a_checkout_is_recognised_by_pyproject_beside_the_corpus_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lay_out(tmp_path / "clone")
    (tmp_path / "clone" / "pyproject.toml").write_text("")
    _point_at(monkeypatch, tmp_path / "clone" / "harness")
    assert resources.shipped_root() == (tmp_path / "clone").resolve()


def test_neither_layout_is_an_error_naming_both_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _lay_out(tmp_path / "site-packages")  # no pyproject.toml: site-packages, not a checkout
    package = tmp_path / "site-packages" / "harness"
    _point_at(monkeypatch, package)
    with pytest.raises(ResourceError) as caught:
        resources.shipped_root()
    assert str(package / SHIPPED_DIR) in str(caught.value) and "reinstall" in str(caught.value)


def test_a_missing_shipped_file_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "harness"
    _lay_out(package / SHIPPED_DIR)
    _point_at(monkeypatch, package)
    with pytest.raises(ResourceError, match="suites/nightly"):
        resources.shipped_path(f"{SUITES}/nightly")
