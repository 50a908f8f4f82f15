"""Events to your own ingest endpoint; each one it acknowledges goes into gameday's data-flow ledger."""

import time
import uuid

from locust import FastHttpUser, task

from harness.load import record_event


class EventProducer(FastHttpUser):
    @task
    def send_event(self):
        event_id, sent = uuid.uuid4().hex, time.time()
        response = self.client.post("/events", json={"event_id": event_id})
        if 200 <= response.status_code < 300:
            record_event(self.environment, event_id, ts=sent)
