"""`gameday run --notify URL`: post a short JSON summary of the run to a webhook.

    notification(analysis) -> Notification        the JSON body
    post_summary(url, analysis, timeout=10) -> str | None   None on success, else why it failed

A failure to post never raises and never changes the verdict or the exit code:
the caller prints the returned reason and carries on. The body carries no
credentials; a URL with a token in it is the user's to keep secret.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, TypedDict

from harness.analysis.result import result_document
from harness.report.summary import experiment_rows, headline, summary_line


class Notification(TypedDict):
    text: str  # the one-line summary (Slack- and Mattermost-compatible field name)
    gameday: str
    outcome: str
    exit_code: int
    passed: int
    total: int
    run_dir: str
    failed: list[dict[str, Any]]


def notification(analysis: Any) -> Notification:
    """The webhook body for `analysis`."""
    document = result_document(analysis)
    head = headline(document)
    failed = [
        {"slo": v["slo"], "state": v["state"], "observed": v["observed_text"], "objective": v["objective"]}
        for v in [*document["verdicts"], *experiment_rows(document)]  # the checks are verdict-shaped
        if v["state"] != "pass"
    ]
    return Notification(
        text=slack_escape(summary_line(analysis)),
        gameday=head.name,
        outcome=head.outcome,
        exit_code=head.exit_code,
        passed=head.passed,
        total=head.total,
        run_dir=str(analysis.run_dir),
        failed=failed,
    )


def slack_escape(text: str) -> str:
    """Slack's (and Mattermost's) escaping for message text: `&`, `<` and `>` as entities, so a
    game day or SLO named `<!channel>` or `<http://x|y>` cannot ping a channel or add a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post_summary(url: str, analysis: Any, timeout: float = 10.0) -> str | None:
    """POST the notification as JSON to `url`; None when the server answered 2xx, else the reason."""
    body = json.dumps(notification(analysis)).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "gameday"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return None if 200 <= response.status < 300 else f"webhook answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"could not post to the webhook: {exc}"
