"""What the gateway tells about itself for issue 17: which version answered (X-Model-Version),
and the signals the seed watches (canary weight, cache hit ratio, model accuracy), with the
canary-regression defect seen from both sides. Real replica and gateway processes."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families
from test_gateway_service import GatewayStack, call, distinct_features

from stack.model import check_response


def metrics(stack: GatewayStack) -> dict[tuple[str, tuple], float]:
    text = call(stack.port, "GET", "/metrics").body
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_answer_says_which_version_gave_it_cached_or_not(make_stack):
    stack = make_stack(canary_weight=0.5)
    seen = {}
    for features in distinct_features(0, 40):
        reply = stack.score(features)
        assert reply.status == 200
        version = reply.headers["x-model-version"]
        assert reply.body["model_version"] == {"stable": "stable-v1", "canary": "canary-v2"}[version]
        seen[version] = features
    assert set(seen) == {"stable", "canary"}
    again = stack.score(seen["canary"])
    if again.body["cached"]:  # a cache hit of the version chosen this time says that version
        assert (
            again.headers["x-model-version"]
            == {"stable-v1": "stable", "canary-v2": "canary"}[again.body["model_version"]]
        )


def test_after_a_fallback_the_header_names_the_version_that_answered(make_stack):
    stack = make_stack(canary_weight=1.0)
    call(stack.port, "POST", "/admin/breakers/replica-3", {"state": "open", "ttl": 60})
    reply = stack.score(distinct_features(200, 1)[0])
    assert reply.status == 200 and reply.headers["x-model-version"] == "stable"


def test_metrics_carry_canary_weight_cache_hit_ratio_and_accuracy_per_version(make_stack):
    stack = make_stack(canary_weight=0.0)
    call(stack.port, "POST", "/admin/split", {"canary_weight": 0.25})
    hot = distinct_features(300, 1)[0]
    for features in [hot] * 10 + distinct_features(400, 10):
        assert stack.score(features).status == 200
    found = metrics(stack)
    assert found[("gateway_canary_weight", ())] == 0.25
    assert 0.3 < found[("gateway_cache_hit_ratio", ())] < 0.6  # most repeats of `hot` hit
    checked = sum(v for (name, _), v in found.items() if name == "gateway_model_checked_total")
    assert checked >= 10
    assert found[("gateway_model_accuracy", (("version", "stable"),))] == 1.0


def test_canary_regression_makes_only_the_canary_slower_and_wrong_on_a_slice_of_inputs(make_stack):
    stack = make_stack(canary_weight=0.5, defects=("canary-regression",), cache_size=0)
    timings: dict[str, list[float]] = {"stable": [], "canary": []}
    wrong = {"stable": 0, "canary": 0}
    for features in distinct_features(1000, 300):
        started = time.perf_counter()
        reply = stack.score(features)
        version = reply.headers["x-model-version"]
        timings[version].append(time.perf_counter() - started)
        wrong[version] += not check_response({"features": features}, reply.body)
    canary, stable = sorted(timings["canary"]), sorted(timings["stable"])
    assert len(canary) > 60 and len(stable) > 60
    assert canary[len(canary) // 2] >= 0.05 > stable[len(stable) // 2]
    assert wrong["stable"] == 0 and 0 < wrong["canary"] < 0.1 * len(canary)
    accuracy = metrics(stack)[("gateway_model_accuracy", (("version", "canary"),))]
    assert 0.85 < accuracy < 1.0  # the gateway's own check sees what the client sees
