/** mesh area. PLACEHOLDER: provides nothing yet. */
import type { NodeRuntime } from '../runtime.js';
import type { AreaProvision } from '../lifecycle/provided.js';

export function createMeshArea(_rt: NodeRuntime): AreaProvision {
  return {};
}
