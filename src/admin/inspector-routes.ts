/** Routes of the live inspector page (see issue 4); replaced by the full page. */
import type { AdminRoute } from './routes.js';

export const inspectorRoutes: Record<string, AdminRoute> = {};
