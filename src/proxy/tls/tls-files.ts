/**
 * `--tls-cert FILE --tls-key FILE`: both or neither, read and checked once at
 * start, so a certificate that cannot be used is an exit 2 naming the option,
 * never a listener that fails every handshake.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/** A problem with one option: which one, and why. */
export class TlsOptionError extends Error {
  constructor(
    readonly option: '--tls-cert' | '--tls-key',
    message: string,
  ) {
    super(message);
  }
}

const reason = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

function read(option: '--tls-cert' | '--tls-key', file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsOptionError(option, `cannot read ${file}: ${reason(error)}`);
  }
}

export function loadTlsFiles(certFile: string | undefined, keyFile: string | undefined): TlsFiles | null {
  if (!certFile && !keyFile) return null;
  if (!certFile) throw new TlsOptionError('--tls-cert', 'required with --tls-key (both or neither)');
  if (!keyFile) throw new TlsOptionError('--tls-key', 'required with --tls-cert (both or neither)');
  const cert = read('--tls-cert', certFile);
  const key = read('--tls-key', keyFile);
  try {
    tls.createSecureContext({ cert });
  } catch (error) {
    throw new TlsOptionError('--tls-cert', `${certFile} is not a usable PEM certificate: ${reason(error)}`);
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsOptionError('--tls-key', `${keyFile} is not the private key of ${certFile}: ${reason(error)}`);
  }
  let notAfter: Date | null = null;
  try {
    notAfter = new Date(new X509Certificate(cert).validTo);
  } catch {
    notAfter = null;
  }
  if (notAfter && notAfter.getTime() < Date.now()) {
    throw new TlsOptionError('--tls-cert', `${certFile} expired on ${notAfter.toISOString()}`);
  }
  return { cert, key, certFile, keyFile };
}
