"""A cascade policy as stored on a workspace or a trigger (JSON), and as the worker reads it.

The rules for accepting one from a request live in ``calserver.cascade.policy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

CapAction = Literal["defer", "drop"]


@dataclass(frozen=True)
class Step:
    channel: str
    price: Decimal
    wait_seconds: int


@dataclass(frozen=True)
class Cap:
    max: int
    period_seconds: int
    action: CapAction


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...]
    quiet_hours: bool
    cap: Cap | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        steps = tuple(
            Step(s["channel"], Decimal(str(s["price"])), int(s["wait_seconds"]))
            for s in data["steps"]
        )
        cap = data.get("frequency_cap")
        return cls(
            steps,
            bool(data.get("quiet_hours", True)),
            Cap(int(cap["max"]), int(cap["period_seconds"]), cap["action"]) if cap else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [
                {"channel": s.channel, "price": str(s.price), "wait_seconds": s.wait_seconds}
                for s in self.steps
            ],
            "quiet_hours": self.quiet_hours,
            "frequency_cap": (
                {"max": self.cap.max, "period_seconds": self.cap.period_seconds,
                 "action": self.cap.action} if self.cap else None
            ),
        }  # fmt: skip
