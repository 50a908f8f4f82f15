"""Toxics: what they are, how their JSON is checked, and what they do to a stream.

A toxic is immutable: an update makes a new `Toxic` that keeps the old one's
`uid`, `started` and (unless a new `ttl` is given) its expiry. JSON shapes are
Toxiproxy 2.x's, plus two extension fields that Toxiproxy clients ignore:
`ttl` (seconds this toxic lives; accepted on create and update) and
`expires_at` (UTC epoch seconds when it removes itself).

Types and attributes (times in milliseconds, as in Toxiproxy):

    latency     latency, jitter   delay each chunk by latency +/- jitter
    timeout     timeout           swallow all data; close after `timeout` (0 = never)
    reset_peer  timeout           pass data, then reset (RST) after `timeout`
    bandwidth   rate              at most `rate` KB/s (1 KB = 1000 bytes; 0 = unlimited)
    slow_close  delay             hold back the close of the stream for `delay`
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from stack.proxy.errors import BadRequest

TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
}
STREAMS = ("upstream", "downstream")

_uids = itertools.count(1)


class ToxicJson(TypedDict):
    """A toxic as the API sends it (Toxiproxy's fields + `ttl`, `expires_at`)."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, float]
    ttl: float
    expires_at: float


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, float]
    ttl: float
    expires_at: float  # UTC epoch seconds
    deadline: float  # the same instant on the monotonic clock
    started: float = field(default_factory=time.monotonic)
    uid: int = field(default_factory=lambda: next(_uids))

    def attr(self, key: str) -> float:
        return self.attributes.get(key, 0.0)

    def to_json(self) -> ToxicJson:
        return ToxicJson(
            name=self.name,
            type=self.type,
            stream=self.stream,
            toxicity=self.toxicity,
            attributes=dict(self.attributes),
            ttl=self.ttl,
            expires_at=round(self.expires_at, 3),
        )


def parse_toxic(body: Any, default_ttl: float) -> Toxic:
    """A new toxic from a create request's JSON; BadRequest lists every problem."""
    if not isinstance(body, dict):
        raise BadRequest(f"bad request body: expected a JSON object, got {_kind(body)}")
    problems: list[str] = []
    kind = body.get("type")
    if not kind:
        problems.append("missing required field: type")
    elif kind not in TOXIC_ATTRIBUTES:
        problems.append(f"invalid toxic type: '{kind}' (known: {', '.join(TOXIC_ATTRIBUTES)})")
    stream = body.get("stream") or "downstream"
    if stream not in STREAMS:
        problems.append(f"stream was invalid, can be either upstream or downstream: '{stream}'")
    name = body.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        problems.append(f"name: {name!r} is not a string")
    toxicity = _toxicity(body.get("toxicity", 1.0), problems)
    attributes = _attributes(body.get("attributes"), kind, problems)
    ttl = _ttl(body.get("ttl"), default_ttl, problems)
    if problems:
        raise BadRequest("; ".join(problems))
    assert isinstance(kind, str)  # otherwise `problems` said so (a known type is a string)
    return Toxic(name, kind, stream, toxicity, attributes, ttl, *_expiry(ttl))


def update_toxic(old: Toxic, body: Any) -> Toxic:
    """`old` with the toxicity, attributes and ttl that `body` gives (Toxiproxy merges them)."""
    if not isinstance(body, dict):
        raise BadRequest(f"bad request body: expected a JSON object, got {_kind(body)}")
    problems: list[str] = []
    toxicity = _toxicity(body.get("toxicity", old.toxicity), problems)
    attributes = {**old.attributes, **_attributes(body.get("attributes"), old.type, problems, fill=False)}
    ttl = _ttl(body.get("ttl"), old.ttl, problems)
    if problems:
        raise BadRequest("; ".join(problems))
    expiry = _expiry(ttl) if "ttl" in body else (old.expires_at, old.deadline)
    return replace(old, toxicity=toxicity, attributes=attributes, ttl=ttl, expires_at=expiry[0], deadline=expiry[1])


def _expiry(ttl: float) -> tuple[float, float]:
    return time.time() + ttl, time.monotonic() + ttl


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _toxicity(value: Any, problems: list[str]) -> float:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        problems.append(f"toxicity: {value!r} is not a number between 0 and 1")
        return 1.0
    return float(value)


def _ttl(value: Any, default: float, problems: list[str]) -> float:
    if value is None:
        return default
    if not _is_number(value) or value <= 0:
        problems.append(f"ttl: {value!r} is not a positive number of seconds")
        return default
    return float(value)


def _attributes(value: Any, kind: str | None, problems: list[str], fill: bool = True) -> dict[str, float]:
    """Known attributes as floats; absent ones are 0 when `fill` (as Toxiproxy's zero values)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.append(f"attributes: {value!r} is not a JSON object")
        return {}
    known = TOXIC_ATTRIBUTES.get(kind or "", ())
    result = {key: 0.0 for key in known} if fill else {}
    for key, raw in value.items():
        if key not in known:
            continue  # Toxiproxy ignores attributes a type does not have
        if not _is_number(raw) or raw < 0:
            problems.append(f"attributes.{key}: {raw!r} is not a non-negative number")
            continue
        result[key] = float(raw)
    return result


# ---- what the active toxics of one stream do ---------------------------------
@dataclass(frozen=True)
class Effects:
    """The combined effect on one direction of one connection."""

    latency_s: float = 0.0  # latency toxics add up, as in Toxiproxy
    jitter_s: float = 0.0
    rate_bps: float = 0.0  # bytes per second; 0 = unlimited
    blackhole: bool = False  # a timeout toxic swallows the data
    slow_close_s: float = 0.0

    @property
    def holds_data(self) -> bool:
        """True when data cannot be forwarded the moment it arrives."""
        return bool(self.latency_s or self.jitter_s or self.rate_bps or self.blackhole)


NO_EFFECTS = Effects()


def effects_of(toxics: list[Toxic]) -> Effects:
    """The combined Effects of the toxics that apply to one stream of one connection."""
    if not toxics:
        return NO_EFFECTS
    latency = sum(t.attr("latency") for t in toxics if t.type == "latency") / 1000
    jitter = sum(t.attr("jitter") for t in toxics if t.type == "latency") / 1000
    rates = [t.attr("rate") * 1000 for t in toxics if t.type == "bandwidth" and t.attr("rate") > 0]
    slow = max((t.attr("delay") for t in toxics if t.type == "slow_close"), default=0.0) / 1000
    blackhole = any(t.type == "timeout" for t in toxics)
    return Effects(latency, jitter, min(rates, default=0.0), blackhole, slow)
