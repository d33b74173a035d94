"""The offline Stripe reaches generated projects as a vendored wheel: it must be built from the
package's current source, and the generated pyproject must point at it as a dev dependency."""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "fakestripe"
SOURCE = PACKAGE / "src" / "fakestripe"
VENDOR = ROOT / "template" / "vendor"
REBUILD = "the vendored wheel is stale: run `make fakestripe-wheel` and commit template/vendor/"


def version() -> str:
    return tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["version"]


def wheel() -> Path:
    return VENDOR / f"keel_fakestripe-{version()}-py3-none-any.whl"


def test_one_wheel_of_the_package_version_is_vendored():
    assert sorted(path.name for path in VENDOR.iterdir()) == [wheel().name], REBUILD


def test_the_vendored_wheel_holds_the_package_source_byte_for_byte():
    source = {
        f"fakestripe/{path.relative_to(SOURCE).as_posix()}": path.read_bytes()
        for path in SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(wheel()) as archive:
        shipped = {
            name: archive.read(name)
            for name in archive.namelist()
            if not name.startswith("keel_fakestripe-")  # the .dist-info folder
        }
    assert sorted(shipped) == sorted(source), REBUILD
    stale = [name for name in source if shipped[name] != source[name]]
    assert stale == [], f"{REBUILD} (differs: {', '.join(stale)})"


def test_the_generated_pyproject_installs_the_wheel_for_development_only():
    text = (ROOT / "template" / "pyproject.toml.jinja").read_text()
    assert f'keel-fakestripe = {{ path = "vendor/{wheel().name}" }}' in text, REBUILD
    dev = text.split("[dependency-groups]", 1)[1].split("]", 1)[0]
    assert '"keel-fakestripe"' in dev
    dependencies = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert "fakestripe" not in dependencies
