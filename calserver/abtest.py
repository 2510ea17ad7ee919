"""A/B tests of landing copy: which variant a visitor sees, and what the counts say.

A visitor's variant is a stable hash of their anonymous visitor cookie and the segment, so
they keep it on every visit and the split is even without storing anything per visitor.
Conversion is reported with a 95 % Wilson score interval; the leader is compared with the
runner-up by a two-proportion z-test (pooled), significant when p < 0.05.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Z95 = 1.959963984540054
ALPHA = 0.05
MIN_VARIANTS, MAX_VARIANTS = 2, 4
VISITOR_COOKIE = "cs_visitor"
VISITOR_MAX_AGE = 180 * 86400


def new_visitor() -> str:
    return secrets.token_urlsafe(16)


def pick(visitor: str, segment_id: int, keys: Sequence[str]) -> str:
    """The variant of ``keys`` this visitor sees on this segment's page, always the same."""
    digest = hashlib.blake2b(f"{segment_id}:{visitor}".encode(), digest_size=8).digest()
    return keys[int.from_bytes(digest, "big") % len(keys)]


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (good at small counts and near 0 or 1)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test; 1.0 when it cannot tell."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / spread
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Verdict:
    leader: str | None  # the variant with the best conversion (None: no views yet)
    runner_up: str | None
    p_value: float
    significant: bool


def verdict(conversions: Mapping[str, tuple[int, int]]) -> Verdict:
    """``conversions``: variant -> (subscribed, views). The leader against the runner-up."""
    ranked = sorted(
        ((x / n if n else 0.0, key) for key, (x, n) in conversions.items() if n > 0),
        reverse=True,
    )
    if len(ranked) < 2:
        return Verdict(ranked[0][1] if ranked else None, None, 1.0, False)
    leader, runner = ranked[0][1], ranked[1][1]
    p = two_proportion_p(*conversions[leader], *conversions[runner])
    return Verdict(leader, runner, p, p < ALPHA)


def shown_variants(variants: list[dict[str, Any]] | None, kept: str | None) -> list[dict[str, Any]]:
    """The variants visitors are split between now: all of a running test, the kept one
    after the test ended, none without a test."""
    if not variants:
        return []
    if kept:
        return [v for v in variants if v.get("key") == kept]
    return list(variants)


def variant_for(
    visitor: str, segment_id: int, variants: list[dict[str, Any]] | None, kept: str | None
) -> dict[str, Any] | None:
    shown = shown_variants(variants, kept)
    if not shown:
        return None
    key = pick(visitor, segment_id, [str(v["key"]) for v in shown])
    return next(v for v in shown if v["key"] == key)
