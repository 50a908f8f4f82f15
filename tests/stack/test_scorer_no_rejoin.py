"""The scorer-no-rejoin defect on a real broker: a scorer whose group session timed out (frozen with
SIGSTOP for longer than the session timeout, as a partition cuts it off) gives up on the group and
never scores again; a healthy scorer rejoins and scores what came meanwhile."""

from __future__ import annotations

import signal
import time

import pytest
from tansu_support import produce_events, read_scores, running_broker, start_scorer, stop, wait_for_line, write_config

from stack import kafka
from stack.kafka import SESSION_TIMEOUT_MS


@pytest.fixture
def bootstrap():
    with running_broker() as address:
        kafka.ensure_topics(address)
        yield address


def _frozen_past_its_session(scorer) -> None:
    scorer.send_signal(signal.SIGSTOP)
    time.sleep(2 * SESSION_TIMEOUT_MS / 1000)  # the broker evicts it meanwhile
    scorer.send_signal(signal.SIGCONT)


@pytest.mark.parametrize(
    ("defects", "scores_after"),
    [((), True), (("scorer-no-rejoin",), False)],
    ids=["healthy-rejoins", "no-rejoin-gives-up"],
)
def test_a_scorer_cut_off_past_its_session_rejoins_unless_the_defect_is_on(bootstrap, tmp_path, defects, scores_after):
    scorer = start_scorer(write_config(tmp_path, defects), 1, bootstrap)
    try:
        wait_for_line(scorer, r"owns \[0, 1, 2, 3\]", timeout=60)
        before = produce_events(bootstrap, 20, "before")
        assert {r["event_id"] for r in read_scores(bootstrap, set(before), timeout=60)} >= set(before)
        _frozen_past_its_session(scorer)
        if not scores_after:
            wait_for_line(scorer, "not rejoining", timeout=60)
        after = produce_events(bootstrap, 20, "after")
        seen = {r["event_id"] for r in read_scores(bootstrap, set(after), timeout=45 if scores_after else 20)}
        assert (set(after) <= seen) is scores_after, sorted(seen & set(after))
        assert scorer.poll() is None  # the defective scorer stays up: nothing restarts it
    finally:
        stop(scorer)
