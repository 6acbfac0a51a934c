/** The entry of a data-plane worker process (`dist/worker.js`), forked by the primary with `--workers N`. */
import { runWorker } from './worker-main.js';

runWorker();
