/** Free loopback ports for tests that must name a port before a node starts (static peers). */
import dgram from 'node:dgram';
import net from 'node:net';

export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, host, () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/**
 * A URL where connections are refused for the whole test: a port checked free
 * on a loopback address nothing in the suite binds (127.66.x.y). A free port
 * on 127.0.0.1 is not enough — a test running beside this one may be given
 * the same port for its own listener, and the "dead" upstream then answers.
 */
export async function deadUrl(): Promise<string> {
  const host = `127.66.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
  return `http://${host}:${await freeTcpPort(host)}`;
}
