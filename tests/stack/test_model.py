"""stack.model: deterministic scores, distinct versions, input validation, the correctness check."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest

from stack import model
from stack.errors import StackError

SAFE = [20.0, 14.0, 0.01, 1.0, 1.0, 2000.0, 0.0, 1.0]
RISKY = [5000.0, 3.0, 0.9, 3000.0, 15.0, 5.0, 1.0, 0.0]


def make_response(features: list[float], kind: str = "stable", **overrides) -> dict:
    """A response body as a replica would send it, with optional fields replaced."""
    m = model.load(kind)
    body = {"score": m.score(features), "model_version": m.version, "replica": "replica-1"}
    body.update(overrides)
    return body


def test_score_is_deterministic_across_calls():
    features = model.example_features(7)
    assert model.load("stable").score(features) == model.load("stable").score(list(features))


def test_score_is_identical_in_a_fresh_process():
    features = model.example_features(11)
    code = f"from stack import model; print(model.load('canary').score({features!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) == model.load("canary").score(features)


def test_score_does_not_depend_on_work():
    features = model.example_features(3)
    assert model.load("stable").score(features, work=1) == model.load("stable").score(features, work=5)


def test_score_rejects_work_below_one():
    with pytest.raises(ValueError, match="work must be at least 1"):
        model.load("stable").score(SAFE, work=0)


def test_stable_and_canary_disagree_on_most_inputs():
    stable, canary = model.load("stable"), model.load("canary")
    inputs = [model.example_features(i) for i in range(50)]
    differing = sum(stable.score(x) != canary.score(x) for x in inputs)
    assert differing >= 45


def test_score_is_in_unit_interval_with_six_decimals():
    for i in range(50):
        score = model.load("stable").score(model.example_features(i))
        assert 0.0 <= score <= 1.0
        assert score == round(score, 6)


def test_risky_transaction_scores_higher_than_safe_one():
    for kind in ("stable", "canary"):
        m = model.load(kind)
        assert m.score(RISKY) > 0.9 > 0.1 > m.score(SAFE)


def test_load_maps_kind_to_version_name():
    assert model.load("stable").version == "stable-v1"
    assert model.load("canary").version == "canary-v2"
    assert set(model.VERSIONS) == {"stable-v1", "canary-v2"}


def test_load_rejects_unknown_kind_naming_the_choices():
    with pytest.raises(StackError, match="unknown model kind 'shadow'.*stable, canary"):
        model.load("shadow")


def test_validate_features_accepts_body_or_bare_list():
    assert model.validate_features({"features": [1, 2, 3, 4, 5, 6, 7, 8]}) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert model.validate_features(SAFE) == SAFE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'no "features"'),
        ([1.0] * 7, "must have 8 numbers"),
        ({"features": "1,2,3"}, "must be a list of 8 numbers, got str"),
        ({"features": [1.0] * 7 + ["x"]}, r"feature 7 \(card_present\) must be a number"),
        ({"features": [True] + [1.0] * 7}, r"feature 0 \(amount\) must be a number"),
        ({"features": [1.0, math.nan] + [1.0] * 6}, r"feature 1 \(hour\) must be finite"),
        (None, "must be a list of 8 numbers, got NoneType"),
    ],
)
def test_validate_features_rejects_bad_body_with_clear_message(body, message):
    with pytest.raises(ValueError, match=message):
        model.validate_features(body)


def test_check_response_accepts_a_real_response():
    features = model.example_features(5)
    assert model.check_response({"features": features}, make_response(features))
    assert model.check_response({"features": features}, make_response(features, "canary"))


def test_check_response_accepts_a_response_that_went_through_json():
    features = model.example_features(6)
    request = json.loads(json.dumps({"features": features}))
    assert model.check_response(request, json.loads(json.dumps(make_response(features))))


def test_check_response_rejects_a_wrong_score():
    features = model.example_features(5)
    good = make_response(features)
    assert not model.check_response({"features": features}, {**good, "score": good["score"] + 2e-6})


def test_check_response_rejects_the_other_versions_score():
    # A canary score labelled as stable is exactly the bug a version mix-up would cause.
    features = model.example_features(5)
    canary_score = model.load("canary").score(features)
    assert not model.check_response({"features": features}, make_response(features, score=canary_score))


def test_check_response_rejects_unknown_version():
    features = model.example_features(5)
    assert not model.check_response({"features": features}, make_response(features, model_version="stable-v0"))


@pytest.mark.parametrize(
    ("request_body", "response_body"),
    [
        ({"features": SAFE}, None),
        ({"features": SAFE}, "0.5"),
        ({"features": SAFE}, {"model_version": "stable-v1"}),
        ({"features": SAFE}, {"score": "0.006755", "model_version": "stable-v1"}),
        ({"features": SAFE}, {"score": True, "model_version": "stable-v1"}),
        ({"features": SAFE}, {"score": 0.5, "model_version": ["stable-v1"]}),
        ({"features": [1.0]}, {"score": 0.5, "model_version": "stable-v1"}),
        (None, {"score": 0.5, "model_version": "stable-v1"}),
    ],
)
def test_check_response_is_false_for_malformed_bodies(request_body, response_body):
    assert model.check_response(request_body, response_body) is False


def test_example_features_is_deterministic_per_index_and_valid():
    assert model.example_features(42) == model.example_features(42)
    assert model.example_features(42) != model.example_features(43)
    assert model.validate_features(model.example_features(42)) == model.example_features(42)


def test_example_features_draws_from_random_or_numpy_generator():
    assert model.example_features(random.Random(1)) == model.example_features(random.Random(1))
    drawn = model.example_features(np.random.default_rng(1))
    assert model.validate_features(drawn) == drawn


def test_importing_model_does_not_import_aiohttp():
    code = "import sys, stack.model; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
