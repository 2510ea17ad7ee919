"""The docs keep up with the code: every API path and the README's two commands."""

from __future__ import annotations

import re
from pathlib import Path

from web.openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent


def test_api_doc_names_every_path_and_method() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    for path, item in openapi_document()["paths"].items():
        for method in item:
            if method in ("get", "post", "patch", "delete"):
                assert re.search(rf"{method.upper()} {re.escape(path)}(?![\w/{{])", text), (
                    method,
                    path,
                )


def test_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/serve", "scripts/test"]
    for command in commands:
        assert (ROOT / command).stat().st_mode & 0o111
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_dockerfile_keeps_its_promises() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 2  # multi-stage
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert "VOLUME /var/lib/calserver" in dockerfile
    zero = [
        line for line in dockerfile.splitlines() if "0.0.0.0" in line and not line.startswith("#")
    ]
    assert len(zero) == 1 and zero[0].startswith("CMD ")
