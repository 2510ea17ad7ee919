"""schemathesis, every check on, against the real server: it must find nothing.

A short session with a fixed seed (so a failure replays the same way); docs/api.md says how
to run a long one with a random seed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.fuzz import schemathesis, seeded_server
from tests.support.processes import http

SEED = 20261201
EXAMPLES = 10  # per operation and phase; with the coverage phase about 3 minutes on two busy cores


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    with seeded_server(tmp_path / "data") as (url, keys):
        # One worker: the same seed then gives the same requests in the same order.
        result = schemathesis(url, keys[0], seed=SEED, max_examples=EXAMPLES, workers=1)
        health = http(f"{url}/healthz")
    report = result.stdout[result.stdout.find("FAILURES") :] or result.stdout[-4000:]
    assert result.returncode == 0, report[:20_000] + result.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested, result.stdout[-3000:]
    assert selected[1] == selected[2] == tested[1]  # every documented operation was exercised
    assert health == (200, {"status": "ok"})
