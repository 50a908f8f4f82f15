"""The reference stack's model: a small transaction-risk MLP with fixed weights.

    8 features -> normalise -> 512 ReLU -> 512 ReLU -> 512 ReLU -> 1 logit
                                           (+ a linear prior on the features) -> sigmoid

Weights come from a fixed seed per version, so every process that imports this
module (a replica, the gateway, a Locust worker checking responses) computes the
same score for the same features, and `stable-v1` and `canary-v2` disagree.

Cost: one forward pass is about 0.2 ms of CPU on the machines this was written
on (two 512x512 mat-vecs dominate). A replica repeats it `work` times
(`StackConfig.model_work`, default 4, so about 0.8 ms) to behave like a real
model under CPU saturation. The score does not depend on `work`, which is why a
load generator can check a response without knowing the stack's settings.

This module imports only numpy and the standard library, so a Locust process
can import it cheaply; weights are built on first use, not at import.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypedDict

import numpy as np

from stack.errors import StackError

FEATURES = (
    "amount",  # transaction amount, currency units
    "hour",  # local hour of day, 0..23
    "merchant_risk",  # merchant's historical fraud rate, 0..1
    "distance_km",  # distance from the card holder's home
    "txns_24h",  # card's transactions in the last 24 hours
    "account_age_days",  # age of the account
    "is_foreign",  # 1.0 if the merchant is abroad
    "card_present",  # 1.0 if the card was physically present
)
N_FEATURES = len(FEATURES)
HIDDEN = 512
SCORE_DECIMALS = 6
SCORE_TOLERANCE = 1e-6 + 1e-12  # the slack absorbs a one-ulp flip at the 6th decimal

# Per-feature normalisation: log-scaled features first go through sign*log1p(|x|).
_LOG_SCALED = np.array([1, 0, 0, 1, 0, 1, 0, 0], dtype=bool)
_CENTER = np.array([3.9, 12.0, 0.3, 2.0, 3.0, 6.0, 0.1, 0.6])
_SCALE = np.array([1.2, 7.0, 0.25, 1.5, 3.0, 1.5, 0.3, 0.5])
# A hand-set linear prior, so the score moves the way a risk score should
# (big, far, foreign, risky merchant up; old account, card present down).
_PRIOR = np.array([0.8, 0.0, 1.0, 0.5, 0.4, -0.6, 0.7, -0.5])
_PRIOR_BIAS = -1.2
_MLP_SCALE = 0.5


class ScoreRequest(TypedDict):
    """Body of `POST /score` (replica) and `POST /v1/score` (gateway)."""

    features: list[float]


class ScoreResponse(TypedDict):
    """What a replica answers to a valid `POST /score`."""

    score: float
    model_version: str
    replica: str


KIND_TO_VERSION = {"stable": "stable-v1", "canary": "canary-v2"}
_SEEDS = {"stable-v1": 1001, "canary-v2": 2002}


class _Weights(NamedTuple):
    w1: np.ndarray
    w2: np.ndarray
    w3: np.ndarray
    w_out: np.ndarray


@dataclass(frozen=True)
class Model:
    """One model version. `score` is deterministic and independent of `work`."""

    version: str
    seed: int

    @functools.cached_property
    def _weights(self) -> _Weights:
        # He initialisation keeps activations at a stable scale through the ReLUs.
        rng = np.random.default_rng(self.seed)
        w1 = rng.standard_normal((N_FEATURES, HIDDEN)) * math.sqrt(2.0 / N_FEATURES)
        w2 = rng.standard_normal((HIDDEN, HIDDEN)) * math.sqrt(2.0 / HIDDEN)
        w3 = rng.standard_normal((HIDDEN, HIDDEN)) * math.sqrt(2.0 / HIDDEN)
        w_out = rng.standard_normal(HIDDEN) * math.sqrt(1.0 / HIDDEN)
        return _Weights(w1, w2, w3, w_out)

    def _forward(self, z: np.ndarray) -> float:
        w = self._weights
        h = np.maximum(z @ w.w1, 0.0)
        h = np.maximum(h @ w.w2, 0.0)
        h = np.maximum(h @ w.w3, 0.0)
        return float(h @ w.w_out)

    def score(self, features: list[float], work: int = 1) -> float:
        """Risk score in [0, 1], rounded to 6 decimals; costs `work` forward passes.

        `features` must already be valid (see `validate_features`).
        """
        if work < 1:
            raise ValueError(f"work must be at least 1, got {work!r}")
        z = _normalise(np.asarray(features, dtype=np.float64))
        for _ in range(work):
            # Each pass is real CPU work; repeating it sets the cost of a request.
            mlp = self._forward(z)
        logit = float(z @ _PRIOR) + _PRIOR_BIAS + _MLP_SCALE * mlp
        return round(_sigmoid(logit), SCORE_DECIMALS)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.where(_LOG_SCALED, np.sign(x) * np.log1p(np.abs(x)), x)
    return np.clip((x - _CENTER) / _SCALE, -6.0, 6.0)


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    e = math.exp(logit)  # the other branch would overflow for very negative logits
    return e / (1.0 + e)


VERSIONS: dict[str, Model] = {name: Model(name, seed) for name, seed in _SEEDS.items()}


def load(kind: str) -> Model:
    """The model a replica of this kind serves: 'stable' -> stable-v1, 'canary' -> canary-v2."""
    try:
        return VERSIONS[KIND_TO_VERSION[kind]]
    except KeyError:
        raise StackError(f"unknown model kind '{kind}'; use one of: {', '.join(KIND_TO_VERSION)}") from None


def validate_features(obj: Any) -> list[float]:
    """The 8 features of a request body `{"features": [...]}` (or of the bare list).

    Raises ValueError whose message says what is wrong and what is expected.
    """
    if isinstance(obj, dict):
        if "features" not in obj:
            raise ValueError(f'body has no "features"; send {{"features": [{N_FEATURES} numbers]}}')
        obj = obj["features"]
    if not isinstance(obj, list):
        raise ValueError(f'"features" must be a list of {N_FEATURES} numbers, got {type(obj).__name__}')
    if len(obj) != N_FEATURES:
        raise ValueError(f'"features" must have {N_FEATURES} numbers ({", ".join(FEATURES)}), got {len(obj)}')
    return [_feature(i, value) for i, value in enumerate(obj)]


def _feature(index: int, value: Any) -> float:
    # bool is an int subclass; true/false in JSON is a client bug, not a feature value.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"feature {index} ({FEATURES[index]}) must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"feature {index} ({FEATURES[index]}) must be finite, got {value!r}")
    return float(value)


def check_response(request_body: Any, response_body: Any) -> bool:
    """True iff the response carries a known `model_version` and that version's score
    of the request's features (within 1e-6). False for anything malformed; never raises."""
    try:
        features = tuple(validate_features(request_body))
        version = response_body["model_version"]
        score = response_body["score"]
        if version not in VERSIONS or isinstance(score, bool) or not isinstance(score, (int, float)):
            return False
        return abs(score - _expected_score(version, features)) <= SCORE_TOLERANCE
    except Exception:  # the contract is "never raises": any odd body is simply wrong
        return False


@functools.lru_cache(maxsize=8192)
def _expected_score(version: str, features: tuple[float, ...]) -> float:
    # Load profiles reuse a bounded pool of inputs, so the cache makes checks nearly free.
    return VERSIONS[version].score(list(features))


class _Random(Protocol):
    def random(self) -> float: ...


def example_features(rng_or_index: int | _Random) -> list[float]:
    """A realistic feature vector. An int gives the same vector in every process;
    anything with a `.random()` method (random.Random, numpy Generator) is drawn from."""
    rng = random.Random(rng_or_index) if isinstance(rng_or_index, int) else rng_or_index
    u = [float(rng.random()) for _ in range(10)]
    return [
        round(math.exp(3.9 + 1.1 * _normal(u[0], u[1])), 2),  # amount, lognormal, median ~50
        float(int(u[2] * 24)),  # hour
        round(u[3] ** 2, 4),  # merchant_risk, mostly low
        round(math.exp(2.0 + 1.4 * _normal(u[4], u[5])), 1),  # distance_km
        float(int(-3.0 * math.log(1.0 - u[6]))),  # txns_24h, exponential
        float(int(math.exp(3.0 + 5.0 * u[7]))),  # account_age_days, 20..3000
        1.0 if u[8] < 0.1 else 0.0,  # is_foreign
        1.0 if u[9] < 0.6 else 0.0,  # card_present
    ]


def _normal(u1: float, u2: float) -> float:
    """Box-Muller: a standard normal from two uniforms in [0, 1)."""
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
