/**
 * The inspector page's script (bundled by scripts/build.mjs into
 * `<dist>/inspector/client.js`, served at `/inspect/client.js`). It draws the
 * chart from `/inspect/machine.json` and follows `/events`; every request goes
 * to the admin origin that served the page.
 *
 * `#lifecycle-state` is only ever set from the daemon's own `lifecycle` names
 * (computed by machines/lifecycle-names.ts), never derived here, so page and
 * daemon cannot disagree.
 */
import { transitionLabel } from './machine-graph.js';
import type { ChartNode } from './machine-graph.js';
import type { LiveState } from './live-state.js';
import type { TransitionNotice } from '../../observability/lifecycle-view.js';

type StateValue = string | { [key: string]: StateValue };
interface InspectionMsg {
  type: string;
  actorId: string | null;
  sessionId: string;
  rootId: string;
  at: number;
  event?: { type: string };
  value?: StateValue | null;
  status?: string | null;
  source?: string | null;
  action?: { type: string };
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const LOG_LIMIT = 1000;

let latest: LiveState = JSON.parse($('initial-state').textContent ?? '{}') as LiveState;
let clockOffset = latest.now - Date.now();
let currentNames: string[] = latest.lifecycleStates;
let activeIds = new Set<string>();
/** Active before the last change: the root's snapshot (inspection) arrives before its `lifecycle` event. */
let previousActiveIds = new Set<string>();
let gone = false;
let source: EventSource | null = null;
let chartReady = false;
const nodeShortName = new Map<string, string>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

// ---- lifecycle label ------------------------------------------------------

function setLifecycle(names: string[]): void {
  if (names.length === 0) return;
  currentNames = names;
  const label = $('lifecycle-state');
  const text = names.join(' + ');
  if (label.textContent !== text) label.textContent = text;
  label.className = names.includes('stopped') ? 'stopped' : names.includes('serving') ? '' : 'leaving';
  paintChart();
}

// ---- chart ----------------------------------------------------------------

function collectIds(node: ChartNode, out: string[]): void {
  out.push(node.id);
  for (const c of node.children) collectIds(c, out);
}

/** Shortest dotted suffix of each id that is still unique, e.g. `deregistering.done`. */
function computeShortNames(root: ChartNode): void {
  const ids: string[] = [];
  collectIds(root, ids);
  for (const id of ids) {
    const parts = id.split('.');
    for (let n = 1; n <= parts.length; n++) {
      const suffix = parts.slice(-n).join('.');
      if (ids.filter((other) => other === suffix || other.endsWith(`.${suffix}`)).length === 1) {
        nodeShortName.set(id, suffix);
        break;
      }
    }
  }
}

function renderNode(node: ChartNode, initialOfParent: string | null): HTMLElement {
  const box = el('div', `state ${node.type}`);
  box.dataset.id = node.id;
  box.dataset.type = node.type;
  if (node.lifecycleName) box.dataset.state = node.lifecycleName;
  const name = el('div', 'name');
  if (initialOfParent === node.id) name.append(el('span', 'initial', '●→'));
  name.append(document.createTextNode(node.key));
  const tag = node.type === 'parallel' ? 'parallel' : node.type === 'final' ? 'final' : '';
  if (tag) name.append(el('span', 'tag', tag));
  box.append(name);
  if (node.invokes.length > 0) {
    box.append(el('div', 'invokes', `invokes ${node.invokes.map((i) => (i.id === i.src ? i.id : `${i.id} (${i.src})`)).join(', ')}`));
  }
  if (node.transitions.length > 0) {
    const list = el('ul', 'transitions');
    for (const t of node.transitions) {
      const li = el('li');
      li.dataset.event = t.event;
      li.title = t.event;
      const targets = t.targets.map((id) => nodeShortName.get(id) ?? id).join(', ');
      li.append(document.createTextNode(t.label));
      if (t.guard) li.append(el('span', 'guard', ` [${t.guard}]`));
      li.append(document.createTextNode(targets ? ` → ${targets}${t.reenter ? ' (re-enter)' : ''}` : ' ↺ (actions only)'));
      list.append(li);
    }
    box.append(list);
  }
  if (node.children.length > 0) {
    const kids = el('div', 'children');
    for (const c of node.children) kids.append(renderNode(c, node.initial));
    box.append(kids);
  }
  return box;
}

/** Ids of every state node in a state value, e.g. {online:'serving'} → lifecycle, lifecycle.online, lifecycle.online.serving. */
function idsOf(value: StateValue, prefix: string, out: Set<string>): Set<string> {
  out.add(prefix);
  if (typeof value === 'string') out.add(`${prefix}.${value}`);
  else for (const [key, sub] of Object.entries(value)) idsOf(sub, `${prefix}.${key}`, out);
  return out;
}

function paintChart(): void {
  if (!chartReady) return;
  for (const box of Array.from(document.querySelectorAll<HTMLElement>('#chart .state'))) {
    const id = box.dataset.id ?? '';
    // The root is active as long as there is a node; highlighting it says nothing.
    box.classList.toggle('active', id !== chartRootId && activeIds.has(id));
    box.classList.toggle('current', box.dataset.state !== undefined && currentNames.includes(box.dataset.state));
  }
}

function setStateValue(value: StateValue | null | undefined, rootId: string): void {
  if (value === null || value === undefined) return;
  const next = idsOf(value, rootId, new Set());
  if (next.size !== activeIds.size || [...next].some((id) => !activeIds.has(id))) {
    previousActiveIds = activeIds;
    activeIds = next;
  }
  paintChart();
}

function flashTransition(eventType: string, fromIds: Set<string>): void {
  for (const li of Array.from(document.querySelectorAll<HTMLElement>('#chart li[data-event]'))) {
    const owner = li.closest<HTMLElement>('.state')?.dataset.id ?? '';
    li.classList.toggle('taken', li.dataset.event === eventType && fromIds.has(owner));
  }
}

let chartRootId = 'lifecycle';
async function loadChart(): Promise<void> {
  const res = await fetch('/inspect/machine.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`/inspect/machine.json answered ${res.status}`);
  const root = (await res.json()) as ChartNode;
  chartRootId = root.id;
  computeShortNames(root);
  const chart = $('chart');
  chart.replaceChildren(renderNode(root, root.id));
  chartReady = true;
  setStateValue(latest.stateValue as StateValue, chartRootId);
}

// ---- figures, peers, breakers ---------------------------------------------

function renderTable(target: HTMLElement, headers: string[], rows: Array<Array<[string, string?]>>, emptyText: string): void {
  if (rows.length === 0) {
    target.replaceChildren(el('p', 'empty', emptyText));
    return;
  }
  const table = el('table');
  const head = el('tr');
  for (const h of headers) head.append(el('th', undefined, h));
  table.append(head);
  for (const row of rows) {
    const tr = el('tr');
    for (const [text, cls] of row) tr.append(el('td', cls, text));
    table.append(tr);
  }
  target.replaceChildren(table);
}

function renderState(s: LiveState): void {
  latest = s;
  clockOffset = s.now - Date.now();
  $('in-flight').textContent = String(s.inFlight);
  setLifecycle(s.lifecycleStates);
  setStateValue(s.stateValue as StateValue, chartRootId);
  renderTable(
    $('peers'),
    ['address', 'id', 'source', 'status', 'last seen'],
    s.peers.map((p) => [
      [p.address],
      [p.id ?? '–'],
      [p.source],
      [p.status, `st-${p.status}`],
      [p.lastSeen ? clock(p.lastSeen) : '–'],
    ]),
    'no peers known',
  );
  renderTable(
    $('breakers'),
    ['target', 'state'],
    s.circuitBreakers.map((b) => [[b.target], [b.state, `st-${b.state}`]]),
    'no breakers yet (one per target, created on first use)',
  );
  renderCountdown();
}

function renderCountdown(): void {
  const s = latest;
  const sd = s.shutdown;
  if (!sd) {
    $('drain-countdown').textContent = '–';
    $('budget-left').textContent = '–';
    $('budget-bar').style.width = '0';
    $('shutdown-detail').textContent = 'not shutting down';
    return;
  }
  const stopped = currentNames.includes('stopped');
  // Once stopped, the countdown freezes at the last figures the node sent.
  const now = stopped ? s.now : Date.now() + clockOffset;
  const elapsed = now - sd.startedAt;
  const draining = currentNames.includes('draining');
  $('drain-countdown').textContent = draining ? seconds(sd.drainDeadlineAt - now) : sd.drain ? 'done' : '–';
  $('budget-left').textContent = seconds(sd.exitDeadlineAt - now);
  $('budget-label').textContent = `left of the ${seconds(sd.budgetMs)} budget`;
  $('budget-bar').style.width = `${Math.min(100, (100 * elapsed) / sd.budgetMs).toFixed(1)}%`;
  const parts = [`signal ${sd.signals.join(', ')} at ${clock(sd.startedAt)}`, `${seconds(elapsed)} ago`];
  if (s.shutdownDelayEndsAt !== null && now < s.shutdownDelayEndsAt && draining) {
    parts.push(`shutdown delay: still accepting for ${seconds(s.shutdownDelayEndsAt - now)}`);
  }
  parts.push(`drain deadline ${clock(sd.drainDeadlineAt)}`, `exit deadline ${clock(sd.exitDeadlineAt)}`);
  if (sd.drain) parts.push(`drained ${sd.drain.drained}, cut ${sd.drain.cut}`);
  if (sd.drainSkipped) parts.push('second signal: rest of the drain skipped');
  $('shutdown-detail').textContent = parts.join(' · ');
}

// ---- event log -------------------------------------------------------------

function log(at: number, text: string, cls = ''): void {
  const box = $('log');
  const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  const row = el('div', `row ${cls}`);
  row.append(el('span', 't', `${clock(at)}  `), document.createTextNode(text));
  box.append(row);
  while (box.childElementCount > LOG_LIMIT) box.firstElementChild?.remove();
  if (stick) box.scrollTop = box.scrollHeight;
}

function describeEvent(e: { type: string; signal?: string }): string {
  const label = transitionLabel(e.type, chartRootId);
  return e.signal ? `${label} (${e.signal})` : label;
}

function onTransition(t: TransitionNotice): void {
  const before = currentNames.join(' + ');
  const fromIds = new Set([...previousActiveIds, ...activeIds]);
  setLifecycle(t.lifecycle);
  flashTransition(t.event.type, fromIds);
  const after = t.lifecycle.join(' + ');
  const change = before === after ? `(now ${t.to})` : `${before} → ${after}`;
  log(t.at, `${describeEvent(t.event)}  ${change}`, 'lifecycle');
}

function onInspection(e: InspectionMsg): void {
  // The root actor's generated id (x:0) means nothing to a reader: name it after the chart.
  const who = e.sessionId === e.rootId ? chartRootId : (e.actorId ?? e.sessionId);
  if (e.type === '@xstate.snapshot' && e.sessionId === e.rootId) setStateValue(e.value, chartRootId);
  let text: string;
  let important = false;
  switch (e.type) {
    case '@xstate.event':
      text = `event ${e.event?.type ?? '?'} → ${who}${e.source ? ` from ${e.source === e.rootId || /^x:\d+$/.test(e.source) ? chartRootId : e.source}` : ''}`;
      important = !(e.event?.type ?? '').startsWith('xstate.');
      break;
    case '@xstate.actor':
      text = `actor ${who} started`;
      important = true;
      break;
    case '@xstate.snapshot':
      text = `snapshot ${who}: ${e.status ?? ''} ${e.value !== null && e.value !== undefined ? JSON.stringify(e.value) : ''}`;
      break;
    case '@xstate.action':
      text = `action ${e.action?.type ?? '?'} in ${who}`;
      break;
    default:
      text = `${e.type} ${who}`;
  }
  log(e.at, text, important ? 'inspection' : 'detail');
}

// ---- connection ------------------------------------------------------------

function nodeGone(reason: string, final: LiveState | null): void {
  if (gone) return;
  gone = true;
  source?.close();
  const before = currentNames.join(' + ');
  if (final) renderState(final);
  // Without a final word from the node, all we know is that it is not running.
  setLifecycle(final?.lifecycleStates.length ? final.lifecycleStates : ['stopped']);
  // The stream may end before the last transition's own event went out.
  const after = currentNames.join(' + ');
  if (after !== before) log(final?.now ?? Date.now(), `final state  ${before} → ${after}`, 'lifecycle');
  renderCountdown();
  $('connection').textContent = 'disconnected';
  const notice = $('node-gone');
  notice.textContent = `The node is gone: ${reason}. This page shows its final state and will not update; reload once a node runs here again.`;
  notice.classList.add('visible');
  log(Date.now(), `node is gone: ${reason}`, 'gone');
}

async function healthAnswers(): Promise<boolean> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 1500);
  try {
    const res = await fetch('/healthz', { cache: 'no-store', signal: ctl.signal });
    return res.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function connect(): void {
  const es = new EventSource('/events');
  source = es;
  es.addEventListener('open', () => {
    $('connection').textContent = 'live';
    log(Date.now(), 'connected to /events', 'detail');
  });
  // `hello` is the plain /state JSON; the `state` event right after it carries the rest.
  es.addEventListener('hello', (m) => setLifecycle((JSON.parse((m as MessageEvent<string>).data) as LiveState).lifecycleStates));
  es.addEventListener('state', (m) => renderState(JSON.parse((m as MessageEvent<string>).data) as LiveState));
  es.addEventListener('lifecycle', (m) => onTransition(JSON.parse((m as MessageEvent<string>).data) as TransitionNotice));
  es.addEventListener('inspection', (m) => onInspection(JSON.parse((m as MessageEvent<string>).data) as InspectionMsg));
  es.addEventListener('stopped', (m) => nodeGone('it stopped (final event received)', JSON.parse((m as MessageEvent<string>).data) as LiveState));
  es.addEventListener('error', () => {
    if (gone) return;
    $('connection').textContent = 'connection lost, checking /healthz…';
    void healthAnswers().then((alive) => {
      if (gone) return;
      if (alive) $('connection').textContent = 'reconnecting…';
      else nodeGone('the event stream closed and /healthz does not answer', null);
    });
  });
}

function start(): void {
  renderState(latest);
  $('show-all').addEventListener('change', (e) => $('log').classList.toggle('all', (e.target as HTMLInputElement).checked));
  loadChart().catch((error: unknown) => {
    $('chart').replaceChildren(el('p', 'empty', `cannot draw the chart: ${String(error)}`));
  });
  connect();
  setInterval(() => {
    if (!gone) renderCountdown();
  }, 100);
}

start();
