"""A/B tests of landing copy: which variant a visitor sees, and what the counts say.

A visitor's variant is a stable hash of their anonymous visitor cookie and the segment, so
they keep it on every visit and the split is even without storing anything per visitor.
Conversion is reported with a 95 % Wilson score interval; the leader is compared with the
runner-up by a two-proportion z-test (pooled), significant when p < 0.05.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from feeds.i18n import N_
from storage.funnels import Funnel

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


KEY_RE = re.compile(r"^[a-z0-9]{1,8}$")
# (field, longest, required, what to say when it is wrong)
FIELDS = (
    ("headline", 200, True, N_("The headline takes 1 to 200 characters.")),
    ("description", 1000, False, N_("The description takes at most 1000 characters.")),
    ("reward_text", 200, False, N_("The reward text takes at most 200 characters.")),
)


class VariantError(ValueError):
    """Variants a segment cannot take: (field pointer, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = errors


def check_variants(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    """2-4 variants with distinct keys, or [] (no test); each error names its field."""
    errors: list[tuple[str, str]] = []
    if items and not MIN_VARIANTS <= len(items) <= MAX_VARIANTS:
        errors.append(("", N_("An A/B test takes 2 to 4 variants, or none to end it.")))
    keys: set[str] = set()
    clean = []
    for index, item in enumerate(items):
        key = str(item.get("key", ""))
        if not KEY_RE.fullmatch(key) or key in keys:
            errors.append((f"/{index}/key", N_("A key is 1 to 8 lower-case letters or digits, different for each variant.")))  # fmt: skip
        keys.add(key)
        fields = {}
        for name, limit, required, message in FIELDS:
            value = str(item.get(name) or "").strip()
            if (required and not value) or len(value) > limit or "\x00" in value:
                errors.append((f"/{index}/{name}", message))
            fields[name] = value
        clean.append({"key": key, **fields})
    if errors:
        raise VariantError(errors)
    return clean


@dataclass(frozen=True)
class VariantFigures:
    key: str
    funnel: Funnel
    conversion: float  # subscribed / views
    interval: tuple[float, float]  # 95 % Wilson interval of the conversion
    activation: float  # activated / subscribed


def report(funnels: Mapping[str, Funnel]) -> tuple[list[VariantFigures], Verdict]:
    """Each variant's conversion with its interval, and which leads (and how surely)."""
    rows = [
        VariantFigures(
            key,
            f,
            f.subscribed / f.views if f.views else 0.0,
            wilson(f.subscribed, f.views),
            f.activated / f.subscribed if f.subscribed else 0.0,
        )
        for key, f in sorted(funnels.items())
    ]
    return rows, verdict({r.key: (r.funnel.subscribed, r.funnel.views) for r in rows})
