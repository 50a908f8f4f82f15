"""Inference load profile: scoring requests checked for correctness, and events tracked in the ledger.

Run it on its own (the harness plugin records to a run directory either way):

    locust -f loadprofiles/inference.py --host http://127.0.0.1:19101
    locust -f loadprofiles/inference.py --host http://127.0.0.1:19101 --headless -u 20 -r 20 -t 30s \\
        --gameday-sink kafka --gameday-sink-bootstrap 127.0.0.1:19103

Traffic (one user step = one request, chosen by weight; the plugin names the
endpoints "POST /v1/score" and "POST /v1/events"):

    POST /v1/score    {"features": [8 floats]}; every 200 body is checked with
                      stack.model.check_response, so a wrong or stale score counts
                      against `correctness`, not availability. A share of them
                      (--repeat-share) repeats a few hot inputs, which the gateway's
                      cache can answer; the rest cycle through a pool of FRESH_POOL inputs.
    POST /v1/events   {"event_id", "features"}; each acknowledged id goes to the
                      data-flow ledger (ledger/produced.jsonl) with the time it was sent.

Options (each also an environment variable; shown in the web UI's custom parameters):

    --score-weight   GAMEDAY_SCORE_WEIGHT   relative weight of POST /v1/score (default 10)
    --events-weight  GAMEDAY_EVENTS_WEIGHT  relative weight of POST /v1/events (default 1)
    --repeat-share   GAMEDAY_REPEAT_SHARE   share of score requests using hot inputs (default 0.1)
    --gameday-sink*                         (the plugin's) start a sink reader for the ledger

Without --host, the gateway of a running `gameday stack up` stack is used
($GAMEDAY_HOME/stacks/$GAMEDAY_STACK_NAME/stack.json, default ~/.gameday/stacks/default), if there is one.

Each acknowledged event goes to the ledger with `harness.load.record_event`; the
harness plugin ships ids from workers to the master, writes `produced.jsonl`, and
(with --gameday-sink*) runs the sink reader (harness.load.produced).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

from locust import FastHttpUser, events, task

import harness.load.plugin  # noqa: F401  (activates recording)
from harness.load import mark_correct, record_event
from stack.model import check_response, example_features

HOT_POOL = 16        # inputs repeated on purpose; the gateway's cache keeps all of them
FRESH_POOL = 4_000   # other inputs; bounded so check_response's cache makes checks cheap


@events.init_command_line_parser.add_listener
def _options(parser: Any, **_: Any) -> None:
    group = parser.add_argument_group("inference profile")
    group.add_argument("--score-weight", type=float, default=10.0, env_var="GAMEDAY_SCORE_WEIGHT",
                       help="relative weight of POST /v1/score (default 10)")
    group.add_argument("--events-weight", type=float, default=1.0, env_var="GAMEDAY_EVENTS_WEIGHT",
                       help="relative weight of POST /v1/events (default 1)")
    group.add_argument("--repeat-share", type=float, default=0.1, env_var="GAMEDAY_REPEAT_SHARE",
                       help="share of score requests that repeat a few hot inputs (default 0.1)")


def _stack_gateway() -> str | None:
    from stack.config import StackConfig, default_state_root

    name = os.environ.get("GAMEDAY_STACK_NAME", "default")
    path = Path(default_state_root()) / name / "stack.json"
    if not path.exists():
        return None
    return StackConfig.load(path).url("gateway")


class Mix:
    """The request mix read from the options: which task comes next, and with which input."""

    def __init__(self, options: Any) -> None:
        score = float(getattr(options, "score_weight", 10.0))
        event = float(getattr(options, "events_weight", 1.0))
        self.repeat_share = float(getattr(options, "repeat_share", 0.1))
        if score < 0 or event < 0 or score + event <= 0:
            raise ValueError(f"--score-weight {score} and --events-weight {event} must be >= 0 and not both 0")
        if not 0.0 <= self.repeat_share <= 1.0:
            raise ValueError(f"--repeat-share {self.repeat_share} must be between 0 and 1")
        self.score_share = score / (score + event)

    def features(self, rng: random.Random) -> list[float]:
        if rng.random() < self.repeat_share:
            return example_features(rng.randrange(HOT_POOL))
        return example_features(HOT_POOL + rng.randrange(FRESH_POOL))


class InferenceUser(FastHttpUser):
    host = _stack_gateway()

    def on_start(self) -> None:
        self.rng = random.Random()
        self.mix = Mix(self.environment.parsed_options)

    @task
    def step(self) -> None:
        if self.rng.random() < self.mix.score_share:
            self.score()
        else:
            self.event()

    def score(self) -> None:
        body = {"features": self.mix.features(self.rng)}
        with self.client.post("/v1/score", json=body, name="/v1/score", catch_response=True) as response:
            if response.status_code == 200:
                mark_correct(response, check_response(body, _json(response)))

    def event(self) -> None:
        event_id = uuid.uuid4().hex
        body = {"event_id": event_id, "features": self.mix.features(self.rng)}
        sent = time.time()
        with self.client.post("/v1/events", json=body, name="/v1/events", catch_response=True) as response:
            if response.status_code == 200:
                acked = _json(response)
                ok = isinstance(acked, dict) and acked.get("event_id") == event_id and "offset" in acked
                mark_correct(response, ok)
                if ok:
                    record_event(self.environment, event_id, ts=sent)


def _json(response: Any) -> Any:
    try:
        return response.json()
    except Exception:  # a body that is not JSON is simply a wrong answer
        return None
