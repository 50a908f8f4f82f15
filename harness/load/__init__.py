"""The load side of a game day: recording plugin, histograms, shapes, open-model schedule.

Modules (everything but `histogram` and the row formats runs inside the Locust
process, under gevent; the orchestrator never imports `plugin`, `shapes` or `schedule`):

    histogram  mergeable log-linear latency histogram (exact within 0.4%)
    aggregate  per-second cells per (endpoint, outcome); rows out, rows merged in
    shapes     load shapes as pure functions of run time (no Locust import)
    locust_shape  GamedayShape, the Locust LoadTestShape serving the shape the options ask for
    options    the --gameday-* Locust options (each also an env var GAMEDAY_*)
    schedule   open-model slot math and the fixed pool that keeps it
    live       live SLIs (last 5 s / 30 s) written to live.json
    rundir     run directory resolution and append-only writers
    plugin     the Locust event wiring (import it to activate recording)
    inject     `locust -f harness/load/inject.py,your_locustfile.py` for foreign locustfiles
    produced   the produced side of the data-flow ledger (`record_event`), per runner role
    ledger     ledger files, reading and reconciling; sink: the sink reader process

How a profile reports correctness
---------------------------------
Locust fires the `request` event *before* a plain `self.client.post(...)` returns, so a
check made afterwards is too late. Use `catch_response=True`: with both HttpUser and
FastHttpUser the event then fires when the `with` block exits, and the block can
change `response.request_meta["context"]`, which Locust passes to every `request`
listener as `context` (locust 2.47: contrib/fasthttp.py, ResponseContextManager;
clients.py for HttpUser). The context dict is built fresh per request, so marking it
affects only that request:

    import harness.load.plugin  # noqa: F401  (activates recording)
    from harness.load import mark_correct

    with self.client.post("/v1/score", json=body, catch_response=True) as response:
        mark_correct(response, is_correct_score(body, response.json()))

Only responses whose outcome is ok count towards `checked`/`correct`. Time spent in the
check is not part of the response time (Locust stops the clock before the block).

How a profile records a produced event
--------------------------------------
Once the system under test has acknowledged an event, one call puts it in the
data-flow ledger (`ledger/produced.jsonl`), which `events.lost` and
`events.e2e_latency` judge against what a sink reader sees come out:

    from harness.load import record_event

    sent = time.time()
    with self.client.post("/events", json={"id": event_id}, catch_response=True) as response:
        if response.status_code == 202:
            record_event(self.environment, event_id, ts=sent)

`ts` (epoch seconds, default now) is when the event entered the pipeline, the start
of its end-to-end latency. Workers ship their ids to the master, which alone writes
the file (harness.load.produced). A locustfile run under `gameday run` has the plugin
injected; run with plain `locust -f`, it needs `import harness.load.plugin`.

How the intended send time travels
----------------------------------
In the open model, `User.context()` adds `context["gameday.intended"]` (epoch seconds) to
the first request of each task; the plugin measures that request's latency from it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

CORRECT_KEY = "gameday.correct"
INTENDED_KEY = "gameday.intended"


def mark_correct(response: Any, ok: bool) -> None:
    """Record whether a checked response was correct; call inside a catch_response block.

    Raises ValueError when `response` was not made with catch_response=True, because
    the request would already have been recorded without the verdict.
    """
    meta = getattr(response, "request_meta", None)
    if meta is None:
        raise ValueError(
            "mark_correct needs a response from a `with self.client.<method>(..., catch_response=True)` "
            "block; without catch_response Locust has already recorded the request"
        )
    context = meta.get("context")
    if context is None:
        context = meta["context"] = {}
    context[CORRECT_KEY] = bool(ok)


_warned_inactive = False


def record_event(environment: Any, event_id: str, ts: float | None = None) -> None:
    """Record that the system under test acknowledged `event_id`, entered at `ts` (epoch s, default now).

    Cheap (an append to memory); the plugin writes or ships it. Without the plugin
    (plain `locust -f` of a file that does not import harness.load.plugin) there is
    no run directory: the id is dropped and a warning is logged once.
    """
    ledger = getattr(environment, "_gameday_produced", None)
    if ledger is None:
        global _warned_inactive
        if not _warned_inactive:
            _warned_inactive = True
            logging.getLogger(__name__).warning(
                "gameday: record_event without the harness plugin; ids are not recorded. Run under "
                "`gameday run`, or add `import harness.load.plugin` to the locustfile"
            )
        return
    ledger.record(str(event_id), time.time() if ts is None else float(ts))
