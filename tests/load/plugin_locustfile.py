"""Locustfile used by the plugin's integration tests (not a test module).

GAMEDAY_TEST_MIX=mixed: /ok (checked), /status/500 and /status/429, weights 10:1:1.
GAMEDAY_TEST_MIX=stall: only /stall.
"""

import os

from locust import FastHttpUser, constant, task

import harness.load.plugin  # noqa: F401
from harness.load import mark_correct
from harness.load.shapes import shape_requested

if shape_requested():
    from harness.load.locust_shape import GamedayShape  # noqa: F401

MIX = os.environ.get("GAMEDAY_TEST_MIX", "mixed")


class MixedUser(FastHttpUser):
    wait_time = constant(float(os.environ.get("GAMEDAY_TEST_WAIT", "0")))

    @task(10 if MIX == "mixed" else 0)
    def ok(self):
        with self.client.get("/ok", catch_response=True) as response:
            mark_correct(response, response.json().get("value") == 42)

    @task(1 if MIX == "mixed" else 0)
    def server_error(self):
        self.client.get("/status/500")

    @task(1 if MIX == "mixed" else 0)
    def rate_limited(self):
        self.client.get("/status/429")

    @task(1 if MIX == "stall" else 0)
    def stall(self):
        self.client.get("/stall")
