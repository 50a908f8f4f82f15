"""The reference stack: a small AI serving platform that gameday tests by default.

gateway -> model replicas (HTTP), gateway -> Kafka `transactions` -> scorers ->
Kafka `scores`, every hop through a Toxiproxy-compatible fault proxy, all under
supervisord. See docs/architecture.md.
"""
