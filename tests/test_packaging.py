"""pyproject.toml declares every package and data folder, so an install misses none and
setuptools has nothing to discover (or to warn about)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("calserver", "feeds", "storage", "web")


def test_every_folder_of_the_code_is_a_declared_package() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        ".".join(folder.relative_to(ROOT).parts)
        for top in TOP
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.*"))
    }
    assert folders == set(declared["packages"])
