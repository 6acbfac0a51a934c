/**
 * The one way to turn a thrown value into a log/context string; pure, so the
 * chart and the areas in src/ share it.
 */
export function errorMessage(error: unknown): string {
  // grpc-js (etcd) ends some messages with an empty "Resolution note:".
  if (error instanceof Error) return error.message.replace(/\s*Resolution note:\s*$/, '');
  if (typeof error === 'string') return error;
  return JSON.stringify(error) ?? 'unknown error';
}
