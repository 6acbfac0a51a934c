/** discovery area. PLACEHOLDER: provides nothing yet. */
import type { NodeRuntime } from '../runtime.js';
import type { AreaProvision } from '../lifecycle/provided.js';

export function createDiscoveryArea(_rt: NodeRuntime): AreaProvision {
  return {};
}
