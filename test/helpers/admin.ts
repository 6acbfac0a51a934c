/**
 * A live node's admin endpoints as tests read them: `GET /state` (JSON) and
 * `GET /metrics` (Prometheus text). The shapes are written here from the
 * interface (docs and /work/shared/spec/interface.md), not imported from
 * src/, so the daemon is checked against what it promises. Only what tests
 * read is named; the rest of /state stays `unknown`.
 */

/** A node (anything with its admin URL) or the admin URL itself. */
export type AdminTarget = string | { adminUrl: string };

const adminUrlOf = (target: AdminTarget) => (typeof target === 'string' ? target : target.adminUrl);

export interface PeerView {
  address: string;
  meshPort: number;
  id: string | null;
  source: string;
  status: 'alive' | 'suspect' | 'left';
  lastSeen: number | null;
}

export interface BreakerView {
  target: string;
  state: string;
}

export interface EtcdRegistryView {
  key: string;
  registered: boolean;
  connected: boolean;
  leaseId: string | null;
  watching: boolean;
  failedAttempts: number;
  lastError: string | null;
  rejectedKeys: number;
  staleLease: { id: string; outcome: string; at: number } | null;
}

export interface AdminState {
  nodeId: string;
  lifecycle: string;
  inFlight: number;
  inFlightRequests: number;
  inFlightWebSockets: number;
  peers: PeerView[];
  circuitBreakers: BreakerView[];
  /** What the start restored from the data dir (null before `restoring` is done). */
  restored: { fresh: boolean; reason: string | null; peers: number; breakers: number; lastShutdownAt: number | null; savedAt: number | null } | null;
  snapshots: { saved: number; failed: number } | null;
  lastError: string | null;
  /** Null when the node has no registry configured. */
  registry: { etcd: EtcdRegistryView } | null;
  [field: string]: unknown;
}

/** `GET /state`, parsed. */
export async function adminState(target: AdminTarget): Promise<AdminState> {
  const res = await fetch(`${adminUrlOf(target)}/state`);
  return (await res.json()) as AdminState;
}

export async function peersOf(target: AdminTarget): Promise<PeerView[]> {
  return (await adminState(target)).peers;
}

/** The status of one peer in the node's table, undefined when it is not listed. */
export async function peerStatus(target: AdminTarget, address: string): Promise<PeerView['status'] | undefined> {
  return (await peersOf(target)).find((p) => p.address === address)?.status;
}

export async function breakersOf(target: AdminTarget): Promise<BreakerView[]> {
  return (await adminState(target)).circuitBreakers;
}

/** `GET /metrics`, as text (for tests that match a line). */
export async function metricsText(target: AdminTarget): Promise<string> {
  return (await fetch(`${adminUrlOf(target)}/metrics`)).text();
}

/** Value of the one sample of `name` whose labels include `labels`; 0 when absent. */
export async function metric(target: AdminTarget, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleValue(await metricsText(target), name, labels);
}

/** Every sample of `name`, keyed by the value of its label `label` (e.g. requests by outcome). */
export async function metricBy(target: AdminTarget, name: string, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of samples(await metricsText(target), name)) {
    const key = s.labels[label];
    if (key !== undefined) out[key] = s.value;
  }
  return out;
}

interface Sample {
  labels: Record<string, string>;
  value: number;
}

function sampleValue(text: string, name: string, labels: Record<string, string>): number {
  const hit = samples(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hit?.value ?? 0;
}

/** The samples of one metric in Prometheus text (`name{k="v",…} value` or `name value`). */
function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const close = line.indexOf('}');
    const labels: Record<string, string> = {};
    if (line[name.length] === '{') {
      for (const m of line.slice(name.length + 1, close).matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    }
    out.push({ labels, value: Number(line.slice(close === -1 ? name.length : close + 1).trim()) });
  }
  return out;
}
