/** `graceful-edge state`. PLACEHOLDER until the SQLite store lands. */
export function printState(dataDir: string, _json: boolean): number {
  process.stderr.write(`graceful-edge: no state store yet in ${dataDir}\n`);
  return 1;
}
