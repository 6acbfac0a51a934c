/** Bounds for the etcd loops: a leaving node stops them, and no call outlives its slice. */

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new Error('etcd registration stopped: the node is leaving');
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
