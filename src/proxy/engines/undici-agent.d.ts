/**
 * undici's Agent module on its own. `import { Agent } from 'undici'` loads
 * the whole package (fetch, WebSocket, caches, mocks: ~8 MiB of RSS the
 * proxy never uses); the Agent file pulls in only the HTTP/1.1 client.
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';
  const AgentClass: typeof Agent;
  export default AgentClass;
}
