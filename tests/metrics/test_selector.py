"""Selectors for scraped samples, read with prometheus_client's own parser."""

from __future__ import annotations

import pytest

from harness.metrics.selector import parse_selector


def test_a_selector_matches_its_name_and_every_label_it_lists():
    selector = parse_selector('gateway_breaker_state{replica="replica-3"}')
    assert selector.matches("gateway_breaker_state", {"replica": "replica-3", "job": "x"})
    assert not selector.matches("gateway_breaker_state", {"replica": "replica-1"})
    assert not selector.matches("gateway_breaker_state_total", {"replica": "replica-3"})
    assert parse_selector("scorer_consumer_lag").matches("scorer_consumer_lag", {"partition": "2"})


@pytest.mark.parametrize(
    "text", ["", "a b", "a 5", 'a{x!="1"}', 'a{x=~"1.*"}', "rate(a[5m])", "sum(a)", 'a{x="1"} 3', "a\nb 1", "# HELP a"]
)
def test_anything_but_a_name_with_equality_labels_is_refused(text):
    with pytest.raises(ValueError, match="selector"):
        parse_selector(text)
