"""The floor for the open model: the leanest sender on Locust's own HTTP client.

    python benchmarks/floor_sender.py URL closed USERS SECONDS
    python benchmarks/floor_sender.py URL open RATE SECONDS

`benchmarks/open_model.py` runs it beside Locust, pinned to the same core, against the same
server. No Locust runner, no stats, no harness plugin, no pool bookkeeping: gevent greenlets,
each with a `FastHttpSession` (what FastHttpUser uses), and

- `closed`: USERS greenlets that send one request after another, as fast as they can;
- `open`: one greenlet that sleeps until each slot (anchor + n/RATE) is due and wakes an idle
  member for it (a member that finds slots waiting takes them without parking).

It measures the schedule lag (actual send - due time) the way the harness does: filed under the
second the slot was *due* in, over the same middle seconds (the first 2 s and the last 1 s left
out), a second counting as `behind` when its lag p99 or the age of the oldest slot still waiting
passes the harness's threshold (harness.load.aggregate). It prints one JSON line: req/s sent, lag
p99 over the middle and of its worst second, seconds behind, failed requests in the middle, and
its main thread's CPU and blocks per request.

What it is for: whatever the harness's open model costs above this is the harness's; what this
costs above a closed model is what keeping an even schedule costs on the machine itself.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402 - after the monkey-patching, as Locust does
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict, deque  # noqa: E402

import gevent  # noqa: E402
from gevent.hub import Waiter  # noqa: E402
from locust.contrib.fasthttp import FastHttpSession  # noqa: E402
from locust.event import EventHook  # noqa: E402

from harness.histogram import Histogram  # noqa: E402 - the harness's own lag histogram and thresholds
from harness.load.options import DEFAULT_BEHIND_MS  # noqa: E402
from harness.run.calibrate import SKIP_FIRST_S, SKIP_LAST_S  # noqa: E402

MEMBERS = 300  # open: parked members; a hello target needs a handful


def thread_stats() -> tuple[int, int]:
    """(ns this thread ran, times it blocked)."""
    ran = int(open("/proc/thread-self/schedstat").read().split()[0])
    status = open("/proc/thread-self/status").read().splitlines()
    blocked = next(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches"))
    return ran, blocked


def main() -> None:
    url, mode, amount, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    start = time.time() + 1.0  # the members connect lazily; this is only the greenlets' start-up
    end = start + seconds
    middle = (int(start) + SKIP_FIRST_S, int(end) - SKIP_LAST_S)
    lags: dict[int, Histogram] = defaultdict(Histogram)  # per second due, in us (as the plugin records)
    backlog: dict[int, float] = defaultdict(float)  # per second, the oldest waiting slot's age, ms
    failed = [0]

    def count_failure(exception: object = None, **_: object) -> None:
        if exception is not None and middle[0] <= time.time() < middle[1]:
            failed[0] += 1

    requests = EventHook()
    requests.add_listener(count_failure)
    marks: dict[str, tuple[int, int]] = {}

    def record(due: float, sent: float) -> None:
        if middle[0] <= int(due) < middle[1]:
            lags[int(due)].record(int((sent - due) * 1e6))

    def mark() -> None:
        gevent.sleep(max(0.0, middle[0] - time.time()))
        marks["first"] = thread_stats()
        gevent.sleep(max(0.0, middle[1] - time.time()))
        marks["last"] = thread_stats()

    greenlets = [gevent.spawn(mark)]
    if mode == "closed":

        def user() -> None:
            session = FastHttpSession(url, requests, None)
            gevent.sleep(max(0.0, start - time.time()))
            while (now := time.time()) < end:
                record(now, now)
                session.get("/")

        greenlets += [gevent.spawn(user) for _ in range(int(amount))]
    else:
        rate, idle, waiting = amount, [], deque()
        loop = gevent.get_hub().loop

        def member() -> None:
            session = FastHttpSession(url, requests, None)
            while True:
                if waiting:
                    due = waiting.popleft()
                else:
                    waiter: Waiter = Waiter()
                    idle.append(waiter)
                    due = waiter.get()
                    if due is None:
                        return
                record(due, time.time())
                session.get("/")

        def clock() -> None:
            n = 0
            while (due := start + n / rate) < end:
                now = time.time()
                if due > now:
                    gevent.sleep(due - now)
                    now = time.time()
                while due <= now and due < end:  # every slot due by now, oldest first
                    if idle:
                        loop.run_callback(idle.pop().switch, due)
                    else:
                        waiting.append(due)
                    n += 1
                    due = start + n / rate
                if waiting:
                    backlog[int(now)] = max(backlog[int(now)], (now - waiting[0]) * 1000.0)
            for waiter in idle:
                loop.run_callback(waiter.switch, None)

        greenlets += [gevent.spawn(member) for _ in range(MEMBERS)]
        greenlets.append(gevent.spawn(clock))
    gevent.sleep(max(0.0, end - time.time()) + 0.5)
    greenlets[0].join()
    everything = Histogram()
    for second in lags.values():
        everything.add(second)
    sent = everything.total
    (ran0, blocked0), (ran1, blocked1) = marks["first"], marks["last"]
    per_second = {s: h.percentile(99) / 1000.0 for s, h in lags.items()}  # ms
    # a second counts as recorded, as a generator row of the plugin's does, if a slot due in it
    # was sent or one was still waiting in it
    recorded = [s for s in range(middle[0], middle[1]) if s in lags or backlog.get(s, 0.0) > 0]
    behind = sum(per_second.get(s, 0.0) > DEFAULT_BEHIND_MS or backlog[s] > DEFAULT_BEHIND_MS for s in recorded)
    print(
        json.dumps(
            {
                "mode": mode,
                "amount": amount,
                "seconds": len(recorded),
                "missing": max(middle[1] - middle[0], 0) - len(recorded),
                "rate": sent / max(middle[1] - middle[0], 1),
                "lag_p99_ms": everything.percentile(99) / 1000.0 if sent else 0.0,
                "worst_p99_ms": max(per_second.values(), default=0.0),
                "behind": behind,
                "failed": failed[0],
                "cpu_us": (ran1 - ran0) / 1e3 / max(sent, 1),
                "blocks": (blocked1 - blocked0) / max(sent, 1),
            }
        ),
        flush=True,
    )
    os._exit(0)  # members still parked or mid-request: nothing of theirs is worth waiting for


if __name__ == "__main__":
    main()
