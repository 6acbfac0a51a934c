/**
 * The HTML of `GET /inspect`. Rendered with the node's current state so the
 * page is right before its script has connected to `/events`: `#lifecycle-state`
 * never holds a placeholder. Everything it loads comes from this admin origin.
 */
import type { LiveState } from './live-state.js';

const STYLE = `
:root { color-scheme: light; --ink:#1d2329; --dim:#66707a; --line:#c9d1d9; --bg:#f6f8fa; --act:#0b6bcb; --cur:#0a7d32; --warn:#b35900; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:#fff; }
header { display:flex; flex-wrap:wrap; align-items:baseline; gap:12px 24px; padding:12px 18px; border-bottom:1px solid var(--line); background:var(--bg); }
header h1 { font-size:16px; margin:0; font-weight:600; }
#lifecycle-state { font: 600 22px/1.2 ui-monospace, SFMono-Regular, Menlo, monospace; color:var(--cur); }
#lifecycle-state.leaving { color:var(--warn); }
#lifecycle-state.stopped { color:var(--dim); }
#connection { color:var(--dim); font-size:12px; }
#node-gone { display:none; margin:0; padding:10px 18px; background:#fff4e5; border-bottom:1px solid #f0c36d; font-weight:600; }
#node-gone.visible { display:block; }
main { display:grid; grid-template-columns: minmax(0, 3fr) minmax(300px, 2fr); gap:14px; padding:14px 18px; }
section { border:1px solid var(--line); border-radius:6px; padding:10px 12px; min-width:0; }
section h2 { font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--dim); margin:0 0 8px; }
.figures { display:flex; flex-wrap:wrap; gap:8px 22px; }
.figure b { display:block; font: 600 22px/1.2 ui-monospace, Menlo, monospace; }
.figure span { color:var(--dim); font-size:12px; }
.bar { height:8px; background:#e6eaee; border-radius:4px; overflow:hidden; margin:8px 0 2px; }
.bar i { display:block; height:100%; width:0; background:var(--warn); }
#shutdown-detail { color:var(--dim); font-size:12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:3px 6px; border-bottom:1px solid #eef1f4; }
th { color:var(--dim); font-weight:500; }
.empty { color:var(--dim); font-style:italic; }
.st-alive, .st-closed { color:var(--cur); } .st-suspect, .st-half-open { color:var(--warn); } .st-left, .st-open, .st-isolated { color:var(--bad); }
#chart { overflow:auto; }
.state { border:1.5px solid var(--line); border-radius:8px; padding:5px 7px; margin:4px; background:#fff; min-width:110px; }
.state > .name { font-weight:600; font-family: ui-monospace, Menlo, monospace; }
.state > .name .tag { font-weight:400; font-size:11px; color:var(--dim); margin-left:6px; }
.state > .name .initial { color:var(--dim); margin-right:4px; }
.state.final { border-style:double; border-width:4px; }
.state.active { border-color:var(--act); background:#eef5fd; }
.state.current { border-color:var(--cur); box-shadow: 0 0 0 3px rgba(10,125,50,.25); background:#eaf7ee; }
.children { display:flex; flex-wrap:wrap; align-items:flex-start; }
.parallel > .children { flex-wrap:nowrap; }
.parallel > .children > .state { border-style:dashed; flex:1; }
.parallel > .children > .state.active { border-style:dashed; }
.invokes { font-size:11px; color:var(--dim); }
.transitions { list-style:none; margin:2px 0; padding:0; font-size:11.5px; font-family: ui-monospace, Menlo, monospace; }
.transitions li { white-space:nowrap; color:#39424a; }
.transitions li.taken { color:#fff; background:var(--act); border-radius:3px; }
.transitions .guard { color:var(--dim); }
#log { height:340px; overflow:auto; font: 12px/1.45 ui-monospace, Menlo, monospace; background:var(--bg); border-radius:4px; padding:6px; }
#log .row { white-space:pre-wrap; }
#log .t { color:var(--dim); }
#log .lifecycle { color:var(--cur); font-weight:600; }
#log .detail { display:none; color:var(--dim); }
#log.all .detail { display:block; }
#log .gone { color:var(--bad); font-weight:600; }
label.toggle { font-size:12px; color:var(--dim); float:right; }
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON inside <script type="application/json">: only `<` can end the element early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function renderInspectorPage(initial: LiveState): string {
  const label = initial.lifecycleStates.join(' + ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(initial.nodeId)} · graceful-edge inspector</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>graceful-edge · <span id="node-id">${escapeHtml(initial.nodeId)}</span></h1>
  <div>lifecycle: <span id="lifecycle-state">${escapeHtml(label)}</span></div>
  <div id="connection">connecting to /events…</div>
</header>
<p id="node-gone" role="status"></p>
<main>
  <div>
    <section id="statechart">
      <h2>Statechart <span class="tag">(drawn from the running machine's definition; green = current lifecycle state, blue = active)</span></h2>
      <div id="chart"><p class="empty">loading /inspect/machine.json…</p></div>
    </section>
  </div>
  <div>
    <section id="traffic">
      <h2>Traffic and shutdown</h2>
      <div class="figures">
        <div class="figure"><b id="in-flight">${initial.inFlight}</b><span>in flight</span></div>
        <div class="figure"><b id="drain-countdown">–</b><span>until drain deadline</span></div>
        <div class="figure"><b id="budget-left">–</b><span id="budget-label">shutdown budget ${(initial.drainTimeoutMs / 1000).toFixed(1)} s</span></div>
      </div>
      <div class="bar"><i id="budget-bar"></i></div>
      <div id="shutdown-detail">not shutting down</div>
    </section>
    <section>
      <h2>Peers</h2>
      <div id="peers"></div>
    </section>
    <section>
      <h2>Circuit breakers</h2>
      <div id="breakers"></div>
    </section>
    <section>
      <h2>Events <label class="toggle"><input type="checkbox" id="show-all"> all inspection events</label></h2>
      <div id="log"></div>
    </section>
  </div>
</main>
<noscript><p>The live view needs JavaScript; the state above was true when the page was served.</p></noscript>
<script type="application/json" id="initial-state">${scriptJson(initial)}</script>
<script src="/inspect/client.js"></script>
</body>
</html>
`;
}
