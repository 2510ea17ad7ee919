"""Client families from real User-Agent strings; people versus previewers."""

from __future__ import annotations

import pytest

from storage.families import DEFAULT_THRESHOLDS, FAMILIES, family_of, is_person, parse_thresholds
from tests.support.agents import AGENTS, BOTS, BROWSERS


@pytest.mark.parametrize(
    ("family", "agent"), [(f, a) for f, agents in AGENTS.items() for a in agents]
)
def test_family_of(family: str, agent: str) -> None:
    assert family_of(agent) == family


def test_every_family_has_a_real_string_and_thresholds() -> None:
    assert set(AGENTS) == set(FAMILIES) == set(DEFAULT_THRESHOLDS)


@pytest.mark.parametrize("agent", BROWSERS)
def test_people(agent: str) -> None:
    assert is_person(agent)


@pytest.mark.parametrize("agent", BOTS)
def test_previewers_crawlers_and_scripts(agent: str) -> None:
    assert not is_person(agent)


def test_threshold_overrides() -> None:
    table = parse_thresholds("google=5d/21d, apple-ios=24h/5d")
    assert (table["google"].dormant, table["google"].lapsed) == (5 * 86400, 21 * 86400)
    assert table["apple-ios"].dormant == 86400 and table["icsx5"] == DEFAULT_THRESHOLDS["icsx5"]
    for bad in ("google=5d", "nokia=1d/2d", "google=9d/2d", "google=1w/2w"):
        with pytest.raises(ValueError):
            parse_thresholds(bad)
