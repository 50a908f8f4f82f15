"""`--notify URL`: the webhook body, posted to a real local HTTP server; failures never raise."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from report_runs import failed_run
from support import free_port

from harness.report import load_analysis
from harness.report.notify import post_summary


def serve(status):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def test_summary_is_posted_as_json(tmp_path):
    server, received = serve(200)
    try:
        assert post_summary(f"http://127.0.0.1:{server.server_port}/hook", load_analysis(failed_run(tmp_path))) is None
    finally:
        server.shutdown()
    body = received[0]
    assert body["outcome"] == "fail" and body["exit_code"] == 1 and body["passed"] == 1 and body["total"] == 4
    assert body["text"].startswith("FAIL kill-one-model-replica")
    assert body["failed"][0] == {
        "slo": "availability@fault >= 99%",
        "state": "fail",
        "observed": "70.00%",
        "objective": ">= 99%",
    }


def test_a_server_error_is_reported_not_raised(tmp_path):
    server, _ = serve(500)
    try:
        reason = post_summary(f"http://127.0.0.1:{server.server_port}/", load_analysis(failed_run(tmp_path)))
    finally:
        server.shutdown()
    assert reason == "webhook answered HTTP 500"


def test_an_unreachable_webhook_is_reported_not_raised(tmp_path):
    reason = post_summary(f"http://127.0.0.1:{free_port()}/", load_analysis(failed_run(tmp_path)), timeout=2)
    assert reason.startswith("could not post to the webhook")


def test_the_summary_text_is_escaped_for_slack(tmp_path):
    from harness.report.notify import notification

    text = notification(load_analysis(failed_run(tmp_path)))["text"]
    assert "<" not in text and ">" not in text and "&gt;= 99%" in text  # `>= 99%` as Slack shows it
