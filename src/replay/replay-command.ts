/** `graceful-edge replay`. PLACEHOLDER until replay lands. */
export function replayCommand(dataDir: string, _opts: { json: boolean; exportTo: string | null }): number {
  process.stderr.write(`graceful-edge: replay is not available yet (${dataDir})\n`);
  return 1;
}
