/**
 * zod's functional API (`zod/mini`) with the English messages, for every
 * schema in the daemon. The build bundles it (scripts/build.mjs), so only
 * the checks the schemas use are loaded: zod's classic API, loaded from
 * node_modules as ~90 ES modules, cost ~13 MiB of idle RSS
 * (docs/performance.md, "Memory"). The classic API registers the English
 * locale itself; zod/mini leaves issues without a message unless told, and
 * the error lines an operator reads (and the tests assert) are these.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
