"""Parse iCalendar text with ical.js (Mozilla Thunderbird's parser), run by Node.js.

An independent reading of the feeds the server writes: tests compare what a real client
library makes of a feed with what the server meant. The parser lives in
``tests/support/icaljs/parse.mjs``; its JSON output is described there and in ``parse_ics``.

Importing this module makes sure ``tests/support/icaljs/node_modules`` exists, running
``npm ci`` there once if it does not (a fresh clone).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HARNESS_DIR = Path(__file__).resolve().parent / "icaljs"
SCRIPT = HARNESS_DIR / "parse.mjs"
TIMEOUT_SECONDS = 60
_INSTALL_HINT = "run `npm ci` in tests/support/icaljs"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"ical.js harness: `{tool}` is not on PATH (Node.js 20 is needed)")
    return path


def ensure_node_modules() -> None:
    """Install the pinned ical.js from package-lock.json if node_modules is missing."""
    if (HARNESS_DIR / "node_modules" / "ical.js" / "package.json").is_file():
        return
    npm = _require("npm")
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HARNESS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"ical.js harness: npm ci timed out; {_INSTALL_HINT}") from exc
    if result.returncode != 0 or not (HARNESS_DIR / "node_modules" / "ical.js").is_dir():
        raise RuntimeError(
            f"ical.js harness: node_modules is missing and npm ci failed "
            f"(exit {result.returncode}); {_INSTALL_HINT}\n{result.stderr}"
        )


ensure_node_modules()
NODE = _require("node")


def parse_ics(
    text: str | bytes,
    *,
    start: str | None = None,
    until: str | None = None,
    max_occurrences: int = 1000,
    raw_vtimezones: bool = False,
) -> dict[str, Any]:
    """Parse ``text`` with ical.js and return the harness's JSON as a dict.

    ``start``/``until`` (ISO 8601, e.g. ``"2026-01-01T00:00:00Z"``) bound recurrence
    expansion: an occurrence is listed when it overlaps [start, until). Without ``until`` it
    is ``start`` + 2 years; with neither, only ``max_occurrences`` (per event) bounds it.
    ``raw_vtimezones=True`` hands VTIMEZONEs to ical.js untouched (see ``restateOnsets`` in
    parse.mjs), to see what a client using plain ical.js computes.

    Top-level keys: ``calendar`` (VCALENDAR properties, lowercased name -> string),
    ``timezones`` (TZIDs of the file's VTIMEZONEs), ``events``, ``errors`` (defects: a TZID
    without VTIMEZONE, an override that matches no instance, ...) and ``warnings``.
    Raises AssertionError (with node's stderr) when ical.js cannot read the text at all.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    bounds: dict[str, Any] = {"max": max_occurrences}
    if start is not None:
        bounds["from"] = start
    if until is not None:
        bounds["until"] = until
    if raw_vtimezones:
        bounds["raw_vtimezones"] = True
    try:
        result = subprocess.run(
            [NODE, str(SCRIPT), json.dumps(bounds)],
            cwd=HARNESS_DIR,
            input=data,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"ical.js harness timed out after {TIMEOUT_SECONDS}s") from exc
    stderr = result.stderr.decode("utf-8", "replace").strip()
    if result.returncode != 0:
        raise AssertionError(
            f"ical.js could not read the calendar (exit {result.returncode}):\n{stderr}"
        )
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed
