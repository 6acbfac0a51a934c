/**
 * The executable's entry (`dist/cli.js`). Its one job: catch signals before
 * anything else loads. The bundle's other modules and every npm dependency
 * (commander, zod, xstate, undici, SQLite…) take ~0.5–0.8 s to load; a
 * SIGTERM in that window used to kill the node with the default action
 * (exit 143). So this module imports only `signals.ts` (no dependencies),
 * installs the handlers for `run`, and only then loads the CLI. The build
 * splits the bundle at the dynamic import (scripts/build.mjs), so nothing
 * else is evaluated before this line runs.
 */
import { installSignalHandlers } from './signals.js';
import { deferOptimisingCompiler } from './startup-compiler.js';

// Only the daemon keeps signals: `state` and `replay` are short commands a
// Ctrl-C should still end at once.
if (process.argv[2] === 'run') {
  installSignalHandlers();
  // Until the node serves (src/daemon.ts lets it go): src/startup-compiler.ts.
  deferOptimisingCompiler();
}

await import('./cli.js');

// Once the node has stopped and nothing is left to do, leave at once: the
// runtime's own teardown closes the signal handles first (restoring the
// default action), so a signal arriving in that last millisecond would still
// turn a clean exit 0 into 143. `process.exit` skips that teardown.
if (process.argv[2] === 'run') process.once('beforeExit', () => process.exit());
