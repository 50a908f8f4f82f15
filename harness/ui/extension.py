"""The Game day tab of the Locust web UI. Runs inside Locust, as the last locustfile:

    locust -f harness/load/inject.py,loadprofiles/x.py,harness/ui/extension.py \\
        --gameday-run-dir RUN_DIR --gameday-ui-spec RUN_DIR/gameday.yaml

`gameday ui` starts it that way. Locust's own pages stay as they are; this adds:

    a "Game day" tab (Locust's extended tabs and tables): the SLOs with live verdicts for
        the phase that runs (harness.ui.live_slos), refreshed with Locust's own stats poll
        (2 s), and below them the panel page (the one SLO table is Locust's)
    GET  /gameday/panel               experiments with Run/Abort, timeline, chart with chaos markers
    GET  /gameday/state               everything the panel shows, as JSON (polled every second)
    POST /gameday/experiments/run     {"name": "<file in experiments/>"}; 400 unknown, 409 busy or no test
    POST /gameday/experiments/abort   interrupt the running experiment; its rollbacks run
    GET  /gameday/reports/<run>/report.html   the report of a test this session recorded

Every test (start to stop) is one run directory (harness.ui.runs). Stopping the
test, or quitting Locust, interrupts a running experiment and waits for its
rollbacks; then `gameday report` builds the run's reports. With --web-login every
route needs the login too.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import gevent
from flask import Blueprint, jsonify, render_template, request, send_file
from flask.typing import ResponseReturnValue
from locust import events
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from harness.errors import ExperimentBusy
from harness.events import EventKind
from harness.load.locust_shape import current_spec
from harness.run import guardrail
from harness.spec.loader import load_gameday
from harness.status import RunStatus
from harness.ui import catalog
from harness.ui.live_slos import LivePhase, SloRow, live_phase, live_rows
from harness.ui.runner import ExperimentRunner, chaos_events
from harness.ui.runs import OpenRun, UiRuns

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPORT_STATIC = HERE.parent / "report" / "static"
TAB_KEY = "gameday"
SINK_ENV = "GAMEDAY_UI_SINK"
SERIES_KEEP_S = 3600
QUIT_WAIT_S = 300.0  # a stopped test's rollbacks and report, before Locust exits
TABLE = [
    {"key": "slo", "title": "SLO"},
    {"key": "endpoint", "title": "Endpoint"},
    {"key": "objective", "title": "Objective"},
    {"key": "value", "title": "Live value"},
    {"key": "state", "title": "Live verdict"},
    {"key": "window", "title": "Window"},
]


class GamedayTab:
    """The tab's state in one Locust process (master or standalone)."""

    def __init__(self, environment: Any):
        self.environment = environment
        self.recorder = environment._gameday_recorder
        spec_file = getattr(environment.parsed_options, "gameday_ui_spec", "") or ""
        self.gameday = load_gameday(spec_file, check_experiments=False) if spec_file else None
        name = self.gameday.name if self.gameday else "adhoc-ui"
        self.runs = UiRuns(
            self.recorder,
            Path(spec_file) if spec_file else None,
            name,
            getattr(environment, "_gameday_produced", None),
            _sink_argv(),
        )
        self.runner = ExperimentRunner()
        self.series: deque[list[float | None]] = deque(maxlen=SERIES_KEEP_S)
        self.test_started = 0.0
        self.status = RunStatus.COMPLETED
        self.closing: list[gevent.Greenlet] = []
        self.ticker = gevent.spawn(self._tick_forever)

    # ---- Locust events -----------------------------------------------------------
    def on_test_start(self, **kwargs: Any) -> None:
        """Runs before the plugin's own test_start, so the plugin records into the new directory."""
        self.runs.begin()
        self.test_started, self.status = time.time(), RunStatus.COMPLETED
        self.series.clear()
        # the shape this test runs: GamedayShape parsed the form's values again at the start
        self.recorder.spec = current_spec(self.environment) or self.recorder.spec
        self.recorder.on_test_start(**kwargs)

    def on_test_stop(self, **_: Any) -> None:
        run = self.runs.detach()
        if run is None:
            return
        self.runner.abort("test stopped")
        self.closing.append(gevent.spawn(self._close_run, run, self.status))

    def on_quitting(self, **_: Any) -> None:
        """Locust is exiting (Ctrl-C, SIGTERM, Quit). Runs before the plugin's and the profile's quitting
        listeners (Locust fires quitting in reverse), so stopping the test here lets them record its end."""
        self.ticker.kill(block=False)
        if self._test_running():
            self.status = RunStatus.INTERRUPTED
            self.environment.runner.stop()  # test_stop: the plugin writes the last second, on_test_stop closes
        self.runner.finish(reason="locust quit")
        gevent.joinall(self.closing, timeout=QUIT_WAIT_S)

    def on_quit(self, **_: Any) -> None:
        """Locust's last event: drop a run directory that no test used."""
        self.runs.discard_unused()

    def _close_run(self, run: OpenRun, status: RunStatus) -> None:
        self.runner.finish(reason="test stopped")
        self.runs.report(self.runs.end(run, status))

    # ---- every second ------------------------------------------------------------
    def _tick_forever(self) -> None:
        while True:
            gevent.sleep(1.0)
            try:
                self.tick()
            except Exception:
                logger.exception("gameday ui: tick failed")

    def tick(self) -> None:
        self.runner.poll()
        if self._test_running():
            self.series.append(self._point())
            self._watch_guardrails()

    def _point(self) -> list[float | None]:
        total = self.environment.runner.stats.total
        p50 = total.get_current_response_time_percentile(0.5)
        p99 = total.get_current_response_time_percentile(0.99)
        return [round(time.time(), 3), round(total.current_rps, 2), round(total.current_fail_per_sec, 2), p50, p99]

    def _watch_guardrails(self) -> None:
        if not (self.gameday and self.gameday.guardrails and self.runner.running):
            return
        breach = guardrail.check(self.gameday.guardrails, self.recorder.live)
        if breach is not None:
            self.runs.emit("guardrail", EventKind.ABORT, breach.guardrail.sli, **breach.event_detail())
            self.status = RunStatus.ABORTED
            self.runner.abort("guardrail")

    def _test_running(self) -> bool:
        return self.environment.runner.state in (STATE_RUNNING, STATE_SPAWNING)

    # ---- what the tab shows ------------------------------------------------------
    def live_phase(self) -> LivePhase | None:
        """The game day's phase in the running test; None when no test runs."""
        if not (self._test_running() and self.runs.used):
            return None
        warmup = self.gameday.warmup if self.gameday else 0.0
        return live_phase(time.time(), self.test_started, warmup, chaos_events(self.runs.current, self.test_started))

    def slo_rows(self, phase: LivePhase | None = None) -> list[SloRow]:
        return live_rows(self.gameday.slos if self.gameday else (), self.recorder.live, phase or self.live_phase())

    def state(self) -> dict[str, Any]:
        since = self.test_started if self.runs.used else time.time()
        phase, spec = self.live_phase(), current_spec(self.environment)
        return {
            "test": {
                "running": self._test_running(),
                "state": self.environment.runner.state,
                "run_dir": str(self.runs.current) if self.runs.used else None,
                "started": since,
                "phase": phase.name if phase else None,
                "shape": spec.describe() if spec else None,
            },
            "gameday": self.gameday.name if self.gameday else None,
            "slos": self.slo_rows(phase),
            "experiments": [{"name": e.name, "title": e.title} for e in catalog.list_experiments()],
            "experiment": self.runner.view(),
            "events": chaos_events(self.runs.current, since) if self.runs.used else [],
            "series": list(self.series),
            "runs": [
                {**r, "href": f"reports/{r['run']}/report.html" if r["state"] == "ready" else None}
                for r in reversed(self.runs.runs.values())
            ],
        }

    def run_experiment(self, name: object) -> tuple[dict, int]:
        try:
            experiment = catalog.find(name)
        except catalog.UnknownExperiment as exc:
            return {"error": str(exc)}, 400
        if not self._test_running() or self.runs.open is None:
            return {"error": "start a test first: an experiment runs while load is on, into that test's run"}, 409
        try:
            return {"experiment": self.runner.start(experiment, self.runs.current)}, 200
        except ExperimentBusy as exc:
            return {"error": str(exc)}, 409

    def abort_experiment(self) -> tuple[dict, int]:
        aborted = self.runner.abort("user")
        return {"aborted": aborted, "experiment": self.runner.view()}, 200


def _sink_argv() -> list[str] | None:
    """The data-flow sink reader's arguments the launcher chose for the target ($GAMEDAY_UI_SINK, JSON)."""
    text = os.environ.get(SINK_ENV)
    return json.loads(text) if text else None


# ---- Flask wiring --------------------------------------------------------------------
def install(tab: GamedayTab, web_ui: Any) -> None:
    """Add the blueprint, the extended tab and table, and the tab script to Locust's page."""
    auth = web_ui.auth_required_if_enabled
    bp = Blueprint("gameday_ui", __name__, template_folder=str(HERE / "templates"))
    routes = {
        ("/gameday/panel", "GET"): lambda: render_template("panel.html.j2"),
        ("/gameday/state", "GET"): lambda: jsonify(tab.state()),
        ("/gameday/experiments/run", "POST"): lambda: _reply(*tab.run_experiment(_name_from_request())),
        ("/gameday/experiments/abort", "POST"): lambda: _reply(*tab.abort_experiment()),
    }
    for (rule, method), view in routes.items():
        bp.add_url_rule(rule, rule.strip("/").replace("/", "_"), auth(view), methods=[method])
    bp.add_url_rule("/gameday/reports/<run>/report.html", "gameday_report", auth(lambda run: _report(tab, run)))
    bp.add_url_rule("/gameday/static/<path:name>", "gameday_static", auth(_static))
    web_ui.app.register_blueprint(bp)
    web_ui.template_args.update(
        extended_tabs=[{"title": "Game day", "key": TAB_KEY}], extended_tables=[{"key": TAB_KEY, "structure": TABLE}]
    )
    web_ui.app.after_request(lambda response: _add_extended_stats(tab, response))
    _inject_tab_script(web_ui)


def _reply(body: dict, code: int) -> ResponseReturnValue:
    return jsonify(body), code


def _name_from_request() -> object:
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        return body.get("name")
    return request.form.get("name")


def _report(tab: GamedayTab, run: str) -> ResponseReturnValue:
    path = tab.runs.report_file(run)
    if path is None or not path.exists():
        return _reply({"error": f"no report for run {run[:80]!r} in this session (yet)"}, 404)
    return send_file(path, mimetype="text/html")


def _static(name: str) -> ResponseReturnValue:
    files = {
        "tab.js": HERE / "static" / "tab.js",
        "panel.js": HERE / "static" / "panel.js",
        "panel.css": HERE / "static" / "panel.css",
        "uPlot.iife.min.js": REPORT_STATIC / "uPlot.iife.min.js",
        "uPlot.min.css": REPORT_STATIC / "uPlot.min.css",
    }
    if name not in files:  # a fixed list: no path from the URL ever reaches the file system
        return _reply({"error": f"no static file {name[:80]!r}"}, 404)
    return send_file(files[name], max_age=0)


def _add_extended_stats(tab: GamedayTab, response: Any) -> Any:
    if request.endpoint != "locust.request_stats" or response.status_code != 200 or not response.is_json:
        return response
    body = response.get_json()
    body["extended_stats"] = [{"key": TAB_KEY, "data": tab.slo_rows()}]
    response.set_data(json.dumps(body))
    return response


def _inject_tab_script(web_ui: Any) -> None:
    """Wrap Locust's index view: same page, plus the script that puts the panel into the Game day tab."""
    endpoint = next(e for e in web_ui.app.view_functions if e.endswith(".index") and e.startswith("locust"))
    original = web_ui.app.view_functions[endpoint]
    tag = '<script src="./gameday/static/tab.js"></script>'

    def index(*args: Any, **kwargs: Any) -> Any:
        page = original(*args, **kwargs)
        return page.replace("</body>", tag + "</body>") if isinstance(page, str) else page

    web_ui.app.view_functions[endpoint] = index


# ---- Locust hooks ---------------------------------------------------------------------
@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    parser.add_argument(
        "--gameday-ui-spec",
        default="",
        env_var="GAMEDAY_UI_SPEC",
        include_in_web_ui=False,
        help="gameday ui: the session's game day (SLOs, guardrails) copied into every run",
    )


@events.init.add_listener
def _on_init(environment: Any, web_ui: Any = None, **_: Any) -> None:
    runner = environment.runner
    if web_ui is None or isinstance(runner, (WorkerRunner,)) or getattr(environment, "_gameday_recorder", None) is None:
        return  # headless, a worker, or the plugin is missing: nothing to show
    if isinstance(runner, MasterRunner):
        logger.info("gameday ui: distributed runs record on the master; the tab works the same")
    tab = environment._gameday_tab = GamedayTab(environment)
    ev = environment.events
    ev.test_start.remove_listener(tab.recorder.on_test_start)  # re-fired by tab.on_test_start, after begin()
    ev.test_start.add_listener(tab.on_test_start)
    ev.test_stop.add_listener(tab.on_test_stop)
    ev.quitting.add_listener(tab.on_quitting)
    ev.quit.add_listener(tab.on_quit)
    install(tab, web_ui)
