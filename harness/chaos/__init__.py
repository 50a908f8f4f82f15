"""gameday's Chaos Toolkit extension: actions, probes and a control for the local stack.

Experiments call these with `provider: {type: python, module: harness.chaos.<module>}`:

    replicas   kill_replica, stop_replica, start_replica, pause_replica, resume_replica, kill_scorer
    network    partition, add_latency, reset_connections, limit_bandwidth, take_down, heal
    gateway    trip_breaker, reset_breakers, shift_canary
    broker     kill_broker, restart_broker
    probes     gateway_healthy, replicas_ready, ready_replicas, breaker_state, consumer_lag, live_sli
    control    the Chaos Toolkit control that writes each activity to <run>/events.jsonl

Every action finds its stack through `stackref` (argument `stack`, else the
experiment's `configuration.stack`, else $GAMEDAY_STACK_NAME, else "default").
Every fault carries a TTL where it is injected (the proxy, the gateway, or a
detached reaper next to supervisord), so a killed chaos process leaves nothing
behind for longer than that; `gameday cleanup` removes whatever is still there.
"""

DEFAULT_TTL_S = 120.0
