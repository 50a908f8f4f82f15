"""The reference stack's HTTP gateway: scoring over model replicas and event publishing to Kafka.

Modules, one concept each: `breaker` (circuit breaker), `ratelimit` (token
buckets), `cache` (LRU), `split` (stable/canary weight), `upstream` (replica
pool, choice, timeout and retry), `events` (Kafka publishing), `metrics`,
`openapi`, `state` (what one gateway holds), `score` and `admin` (handlers),
`app` (routes and middleware), `__main__` (the process).
"""
