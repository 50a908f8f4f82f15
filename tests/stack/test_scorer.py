"""The scorer: parsing (pure) and the consumer group against a real Tansu broker."""

from __future__ import annotations

import json
import signal

import pytest
from confluent_kafka import Producer
from tansu_support import (
    produce_events,
    read_scores,
    running_broker,
    start_scorer,
    wait_for_line,
    write_config,
)

from stack import kafka
from stack.config import TOPIC_IN
from stack.model import example_features, load
from stack.scorer import MalformedEvent, parse_event

OWNS_SOME = r"owns \[\d"


@pytest.fixture
def bootstrap():
    """A fresh broker per test: each test starts its group from empty topics."""
    with running_broker() as address:
        kafka.ensure_topics(address)
        yield address


@pytest.fixture
def scorers():
    """Factory-owned list of scorer children, all killed after the test."""
    started = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def _event(**overrides) -> bytes:
    return json.dumps({"event_id": "e1", "features": example_features(1), "ts": 1.5, **overrides}).encode()


# ---- parsing -----------------------------------------------------------------


def test_parse_event_accepts_a_valid_event():
    assert parse_event(_event()) == {"event_id": "e1", "features": example_features(1), "ts": 1.5}


@pytest.mark.parametrize(
    "value, complaint",
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_event(event_id=""), "event_id"),
        (_event(features=[1.0] * 7), "8 numbers"),
        (_event(features=[1.0] * 7 + [True]), "must be a number"),
        (_event(ts="yesterday"), "ts 'yesterday'"),
        (None, "not JSON"),
    ],
)
def test_parse_event_rejects_malformed_input_saying_why(value, complaint):
    with pytest.raises(MalformedEvent, match=complaint):
        parse_event(value)


# ---- one scorer ----------------------------------------------------------------


def test_scorer_turns_200_events_into_200_correct_scores(bootstrap, scorers, tmp_path):
    ids = produce_events(bootstrap, 200)
    scorers.append(start_scorer(write_config(tmp_path), 1, bootstrap))
    records = read_scores(bootstrap, set(ids), timeout=20)
    assert sorted(r["event_id"] for r in records) == sorted(ids)
    model = load("stable")
    first = next(r for r in records if r["event_id"] == ids[0])
    assert first["score"] == model.score(example_features(0))
    assert first["model_version"] == model.version and first["scorer"] == "scorer-1"
    assert first["ts_in"] <= first["ts_out"]


def test_scorer_skips_malformed_events_and_keeps_scoring(bootstrap, scorers, tmp_path):
    producer = Producer(kafka.producer_config(bootstrap))
    for bad in (b"{oops", _event(features=[1, 2])):
        producer.produce(TOPIC_IN, value=bad)
    producer.flush(10)
    ids = produce_events(bootstrap, 20)
    proc = start_scorer(write_config(tmp_path), 1, bootstrap)
    scorers.append(proc)
    wait_for_line(proc, "skipping malformed event")
    assert {r["event_id"] for r in read_scores(bootstrap, set(ids), timeout=20)} == set(ids)
    assert proc.poll() is None


def test_scorer_leaves_the_group_and_exits_0_on_sigterm(bootstrap, scorers, tmp_path):
    proc = start_scorer(write_config(tmp_path), 1, bootstrap)
    scorers.append(proc)
    wait_for_line(proc, OWNS_SOME)
    proc.send_signal(signal.SIGTERM)
    wait_for_line(proc, "left group", timeout=5)
    assert proc.wait(5) == 0


# ---- crashes and the commit order ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("defects, loses_events", [((), False), (("commit-before-produce",), True)])
def test_sigkill_right_after_a_commit_loses_events_only_with_commit_before_produce(
    bootstrap, scorers, tmp_path, defects, loses_events
):
    ids = produce_events(bootstrap, 3000)
    # One big batch: with the defect the kill lands while its 2000 scores are being computed.
    victim = start_scorer(write_config(tmp_path, defects), 1, bootstrap, "--batch-size", "2000", "--log-level", "debug")
    scorers.append(victim)
    wait_for_line(victim, "committed")
    victim.kill()
    victim.wait()
    # A healthy scorer takes over from the committed offsets (after the dead member's session expires).
    healthy = tmp_path / "healthy"
    healthy.mkdir()
    successor = start_scorer(write_config(healthy), 2, bootstrap)
    scorers.append(successor)
    wait_for_line(successor, OWNS_SOME, timeout=30)
    # Everything still uncommitted is re-read now; once output goes quiet it is all there.
    records = read_scores(bootstrap, set(ids), timeout=30, quiet=3, require_all=False)
    seen = {r["event_id"] for r in records}
    lost = set(ids) - seen
    assert bool(lost) == loses_events, f"{len(lost)} of {len(ids)} events lost"


@pytest.mark.slow
def test_two_scorers_share_the_partitions_and_lose_nothing(bootstrap, scorers, tmp_path):
    config = write_config(tmp_path)
    scorers += [start_scorer(config, i, bootstrap) for i in (1, 2)]
    for proc in scorers:
        wait_for_line(proc, OWNS_SOME)
    ids = produce_events(bootstrap, 1000)
    records = read_scores(bootstrap, set(ids), timeout=20)
    assert {r["event_id"] for r in records} == set(ids)
    assert {r["scorer"] for r in records} == {"scorer-1", "scorer-2"}


@pytest.mark.slow
def test_sigkill_of_one_scorer_mid_stream_loses_no_event(bootstrap, scorers, tmp_path):
    config = write_config(tmp_path)
    scorers += [start_scorer(config, i, bootstrap) for i in (1, 2)]
    for proc in scorers:
        wait_for_line(proc, OWNS_SOME)
    ids = produce_events(bootstrap, 1000, prefix="before")
    scorers[1].kill()
    ids += produce_events(bootstrap, 1000, prefix="after")
    records = read_scores(bootstrap, set(ids), timeout=40)
    assert set(ids) <= {r["event_id"] for r in records}
