// Puts the Game day panel (an iframe of ./gameday/panel) under the SLO table of Locust's
// "Game day" tab. Locust's React app owns the page; this only adds one element next to
// the tab's table and removes it when another tab is selected.
(function () {
  const FRAME_ID = "gameday-panel-frame";

  function gamedaySelected() {
    const tab = document.querySelector('[role="tab"][aria-selected="true"]');
    return !!tab && tab.textContent.trim() === "Game day";
  }

  function sync() {
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

  setInterval(sync, 400);
})();
