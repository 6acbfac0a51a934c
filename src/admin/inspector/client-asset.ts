/**
 * The inspector's browser script, bundled by scripts/build.mjs next to the
 * running daemon bundle (`<dist>/cli.js` → `<dist>/inspector/client.js`), so
 * side-by-side dist dirs each serve their own build. Read once, then cached.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const CLIENT_SCRIPT_PATH = path.join(import.meta.dirname, 'inspector', 'client.js');

let cached: Buffer | null = null;

/** The script's bytes, or an Error saying where it was looked for. */
export function loadClientScript(): Buffer | Error {
  if (cached) return cached;
  try {
    cached = readFileSync(CLIENT_SCRIPT_PATH);
    return cached;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return new Error(`inspector script not found at ${CLIENT_SCRIPT_PATH} (${code}); run \`npm run build\``);
  }
}
