"""Errors of the reference stack.

    StackError              anything that stops the stack from starting, answering or stopping
    ├── NotRunningError     an operation needs a running stack and there is none
    ├── DeliveryError       Kafka did not acknowledge a produced message (stack.kafka)
    ├── ApiError            the fault proxy's API refuses a request (stack.proxy.errors:
    │                       BadRequest 400, NotFound 404, Conflict 409)
    ├── RequestError        the gateway ends a request with a JSON error (stack.gateway.responses)
    ├── UpstreamError       no replica produced a score (stack.gateway.upstream:
    │                       NoReplicaAvailable 503, AllReplicasFailed 502)
    ├── ReplicaCallError    one call to one replica failed (stack.gateway.upstream)
    ├── PublishError        the gateway's event was not acknowledged by Kafka (stack.gateway.events)
    └── MalformedEvent      a scorer's input message is not a valid event (stack.scorer)

The harness wraps these as `harness.errors.TargetError` at its boundary, so the
stack package never depends on the harness.
"""


class StackError(Exception):
    """The stack could not do what was asked; the message says what to do next."""


class NotRunningError(StackError):
    """The stack (or the named process) is not running."""
