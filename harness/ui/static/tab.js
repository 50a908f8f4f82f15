// Puts the Game day panel (an iframe of ./gameday/panel) under the SLO table of Locust's
// "Game day" tab, and the load shape a test will run into Locust's start form. Locust's
// React app owns the page; this only adds two elements, and removes the panel when
// another tab is selected.
(function () {
  const FRAME_ID = "gameday-panel-frame";
  const LOAD_ID = "gameday-load-line";
  let load = null;   // e.g. "constant_rate (rate=50) for 75s, open model on a pool of 50 users"

  function gamedaySelected() {
    const tab = document.querySelector('[role="tab"][aria-selected="true"]');
    return !!tab && tab.textContent.trim() === "Game day";
  }

  function syncPanel() {
    const frame = document.getElementById(FRAME_ID);
    if (!gamedaySelected()) {
      if (frame) frame.remove();
      return;
    }
    const table = document.querySelector(".MuiTableContainer-root");
    if (!table || (frame && frame.previousElementSibling === table)) return;
    if (frame) frame.remove();
    const panel = document.createElement("iframe");
    panel.id = FRAME_ID;
    panel.src = "./gameday/panel";
    panel.title = "Game day";
    panel.style.cssText = "width:100%;height:1100px;border:0;margin-top:16px;";
    table.insertAdjacentElement("afterend", panel);
  }

  // With a game day, the users and ramp-up fields are disabled (the shape drives the test):
  // say what it will run, next to the Start button. Its values are the form's custom parameters.
  function syncLoadLine() {
    const start = document.querySelector("form button[type=submit]");
    if (!start || !load || document.getElementById(LOAD_ID)) return;
    const line = document.createElement("p");
    line.id = LOAD_ID;
    line.textContent = `Load shape: ${load} (change it under Custom parameters)`;
    line.style.cssText = "margin:8px 0;font:14px system-ui,sans-serif;";
    start.insertAdjacentElement("beforebegin", line);
  }

  async function fetchLoad() {
    try {
      const response = await fetch("./gameday/state", {cache: "no-store"});
      const state = await response.json();
      load = state.test.shape;
      const line = document.getElementById(LOAD_ID);
      if (line && load) line.textContent = `Load shape: ${load} (change it under Custom parameters)`;
    } catch (err) {
      // the next poll tries again
    }
  }

  fetchLoad();
  setInterval(fetchLoad, 5000);
  setInterval(() => { syncPanel(); syncLoadLine(); }, 400);
})();
