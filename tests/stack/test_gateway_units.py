"""Unit tests of the gateway's pure parts: breaker, token bucket, LRU cache, split, replica choice."""

import itertools

import pytest

from stack.gateway.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from stack.gateway.cache import LRUCache
from stack.gateway.ratelimit import RateLimiter, retry_after_header
from stack.gateway.split import Split
from stack.gateway.upstream import Replica, ReplicaPool


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_breaker(clock, failures=3, cooldown=2.0, recovers=True) -> CircuitBreaker:
    return CircuitBreaker(failures, cooldown, recovers=recovers, clock=clock)


def opened(clock, **kwargs) -> CircuitBreaker:
    breaker = make_breaker(clock, **kwargs)
    for _ in range(breaker.failures_to_open):
        breaker.record_failure()
    return breaker


# ---- breaker -------------------------------------------------------------


def test_breaker_stays_closed_below_the_failure_threshold():
    breaker = make_breaker(FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()


def test_breaker_opens_after_consecutive_failures():
    breaker = opened(FakeClock())
    assert breaker.state == OPEN
    assert not breaker.allow()
    assert breaker.snapshot()["opened_at"] is not None


def test_success_resets_the_consecutive_failure_count():
    breaker = make_breaker(FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.consecutive_failures == 1


def test_open_breaker_half_opens_after_cooldown_and_allows_one_trial():
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(1.9)
    assert breaker.state == OPEN
    clock.advance(0.1)
    assert breaker.state == HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()


def test_half_open_trial_success_closes_the_breaker():
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(2.0)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow()


def test_half_open_trial_failure_reopens_for_another_cooldown():
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(2.0)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    clock.advance(1.0)
    assert breaker.state == OPEN
    clock.advance(1.0)
    assert breaker.state == HALF_OPEN


def test_lost_half_open_trial_allows_another_after_cooldown():
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(2.0)
    assert breaker.allow()
    clock.advance(2.0)
    assert breaker.allow()


def test_breaker_that_never_recovers_stays_open():
    clock = FakeClock()
    breaker = opened(clock, recovers=False)
    clock.advance(3600)
    assert breaker.state == OPEN and not breaker.allow()


def test_reset_closes_a_breaker_that_never_recovers():
    breaker = opened(FakeClock(), recovers=False)
    breaker.reset()
    assert breaker.state == CLOSED and breaker.consecutive_failures == 0


def test_late_success_does_not_close_an_open_breaker():
    breaker = opened(FakeClock())
    breaker.record_success()
    assert breaker.state == OPEN


def test_forced_open_ignores_cooldown_and_successes_until_ttl():
    clock = FakeClock()
    breaker = make_breaker(clock)
    breaker.force(OPEN, ttl_s=10)
    clock.advance(9)
    breaker.record_success()
    assert breaker.state == OPEN and not breaker.allow()
    clock.advance(1)
    assert breaker.state == CLOSED and breaker.snapshot()["forced"] is None


def test_forced_closed_does_not_open_on_failures():
    breaker = make_breaker(FakeClock())
    breaker.force(CLOSED, ttl_s=10)
    for _ in range(10):
        breaker.record_failure()
    assert breaker.state == CLOSED and breaker.consecutive_failures == 10


def test_force_rejects_unknown_state_and_bad_ttl():
    breaker = make_breaker(FakeClock())
    with pytest.raises(ValueError, match="half_open"):
        breaker.force(HALF_OPEN, ttl_s=10)
    with pytest.raises(ValueError, match="ttl"):
        breaker.force(OPEN, ttl_s=0)


# ---- token bucket --------------------------------------------------------


def test_token_bucket_allows_a_burst_then_refuses():
    limiter = RateLimiter(rps=1, burst=3, clock=FakeClock())
    assert [limiter.check("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("a") == pytest.approx(1.0)


def test_token_bucket_refills_at_rps():
    clock = FakeClock()
    limiter = RateLimiter(rps=10, burst=1, clock=clock)
    assert limiter.check("a") == 0.0
    assert limiter.check("a") == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.check("a") == 0.0


def test_token_buckets_are_per_client():
    limiter = RateLimiter(rps=1, burst=1, clock=FakeClock())
    assert limiter.check("a") == 0.0
    assert limiter.check("a") > 0
    assert limiter.check("b") == 0.0


def test_reconfigure_caps_tokens_at_new_burst():
    limiter = RateLimiter(rps=1, burst=100, clock=FakeClock())
    limiter.check("a")
    limiter.configure(rps=1, burst=2)
    assert [limiter.check("a") == 0.0 for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize("rps, burst", [(-1, 5), (1, 0.5), ("10", 5), (True, 5), (float("nan"), 5)])
def test_rate_limiter_rejects_bad_settings(rps, burst):
    with pytest.raises(ValueError):
        RateLimiter(rps=rps, burst=burst)


def test_rate_limiter_forgets_least_recent_client_beyond_table_size():
    limiter = RateLimiter(rps=0, burst=1, clock=FakeClock(), max_clients=2)
    for client in ("a", "b", "c"):
        assert limiter.check(client) == 0.0
    assert limiter.check("a") == 0.0  # "a" was evicted, so it starts with a full bucket again
    assert limiter.check("c") > 0


@pytest.mark.parametrize("wait, header", [(0.01, "1"), (1.0, "1"), (1.2, "2"), (float("inf"), "60")])
def test_retry_after_is_whole_seconds_at_least_one(wait, header):
    assert retry_after_header(wait) == header


# ---- LRU cache -----------------------------------------------------------


def test_cache_counts_hits_and_misses():
    cache = LRUCache(2)
    assert cache.get("k") is None
    cache.put("k", {"score": 1})
    assert cache.get("k") == {"score": 1}
    assert cache.stats() == {"size": 1, "capacity": 2, "hits": 1, "misses": 1}


def test_cache_evicts_least_recently_used():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1 and cache.get("c") == 3


def test_cache_of_size_zero_stores_nothing():
    cache = LRUCache(0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0


def test_cache_clear_empties_but_keeps_counts():
    cache = LRUCache(4)
    cache.put("a", 1)
    cache.get("a")
    cache.clear()
    assert cache.stats() == {"size": 0, "capacity": 4, "hits": 1, "misses": 0}


# ---- split and replica choice -------------------------------------------


def sequence_rng(values):
    cycle = itertools.cycle(values)
    return lambda: next(cycle)


def test_split_sends_the_weighted_share_to_canary():
    split = Split(0.25, rng=sequence_rng([i / 100 for i in range(100)]))
    picks = [split.choose() for _ in range(100)]
    assert picks.count("canary") == 25


@pytest.mark.parametrize("weight, expected", [(0.0, "stable"), (1.0, "canary")])
def test_split_extremes_are_exact(weight, expected):
    split = Split(weight, rng=sequence_rng([0.0, 0.5, 0.999999]))
    assert {split.choose() for _ in range(3)} == {expected}


@pytest.mark.parametrize("weight", [-0.1, 1.01, "0.5", None, float("nan"), True])
def test_split_rejects_weights_outside_0_to_1(weight):
    with pytest.raises(ValueError, match="canary_weight"):
        Split(0.0).set_weight(weight)


def make_pool(clock, versions=("stable", "stable", "canary")) -> ReplicaPool:
    replicas = [Replica(f"replica-{i}", i, v, f"http://127.0.0.1:{i}") for i, v in enumerate(versions, start=1)]
    return ReplicaPool(replicas, lambda: CircuitBreaker(1, 2.0, clock=clock))


def test_pool_round_robins_within_a_version():
    pool = make_pool(FakeClock())
    assert [pool.pick("stable").name for _ in range(4)] == ["replica-1", "replica-2", "replica-1", "replica-2"]


def test_pool_skips_replicas_whose_breaker_is_open():
    pool = make_pool(FakeClock())
    pool.record_failure(pool.by_name["replica-1"], "boom")
    assert {pool.pick("stable").name for _ in range(4)} == {"replica-2"}
    assert pool.last_error["replica-1"]["message"] == "boom"


def test_pool_falls_back_to_the_other_version():
    pool = make_pool(FakeClock())
    pool.record_failure(pool.by_name["replica-3"], "down")
    assert pool.pick("canary").version == "stable"


def test_pool_excludes_replicas_already_tried():
    pool = make_pool(FakeClock())
    assert pool.pick("stable", exclude=["replica-1"]).name == "replica-2"


def test_pool_returns_none_when_every_breaker_is_open():
    pool = make_pool(FakeClock())
    for replica in pool.replicas:
        pool.record_failure(replica, "down")
    assert pool.pick("stable") is None and not pool.any_allowed()
