/**
 * `graceful-edge run | state | replay | restart`. Argument parsing is commander's; the
 * meaning of options lives in config/schema.ts.
 */
import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from './config/load.js';
import { ConfigError } from './config/schema.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function runCommand(): Command {
  return new Command('run')
    .description('run a node until SIGTERM/SIGINT, then drain, deregister, save state and exit 0')
    .option('--config <file>', 'JSON config file (flags > env > file > defaults)')
    .option('--node-id <id>', "this node's id in the mesh (default <hostname>-<proxy port>; on port 0, <hostname>-0-<hash of the data dir>)")
    .option('--listen <host:port>', 'proxy listener (default 127.0.0.1:8080)')
    .option('--admin <host:port>', 'admin listener (default 127.0.0.1:9090)')
    .option('--admin-token <token>', 'bearer token, required when --admin is not loopback')
    .option('--upstream <url>', 'an origin to proxy to; repeatable', collect)
    .option('--data-dir <dir>', 'holds state.db (default ./data)')
    .option('--drain-timeout <sec>', 'the whole shutdown budget (default 30)')
    .option('--shutdown-delay <sec>', 'keep serving with readiness failing before draining (default 0)')
    .option('--snapshot-interval <sec>', 'periodic state snapshot (default 60)')
    .option('--restart-timeout <sec>', "hot restart: longest wait for the successor's READY before it is killed (default 60)")
    .option('--peer <host:port[/meshport]>', 'a static mesh peer; repeatable', collect)
    .option('--mesh-port <port>', 'UDP port for mesh notices (default 7946)')
    .option('--mesh-key-file <file>', 'shared secret that signs mesh notices (or env GRACEFUL_EDGE_MESH_KEY)')
    .option('--mdns', 'announce and browse via mDNS (default)')
    .option('--no-mdns', 'do not use mDNS')
    .option('--mdns-interface <addr>', 'interface address for multicast')
    .option('--etcd <urls>', 'comma-separated etcd endpoints')
    .option('--etcd-prefix <prefix>', 'etcd key prefix (default /graceful-edge/nodes/)')
    .addOption(new Option('--log-level <level>', 'log level (default info)'))
    .addOption(new Option('--proxy-engine <engine>', 'forwarding engine: undici or http-proxy (default undici)'))
    .option('--target-timeout <sec>', "longest wait for a target's response head, once the request was sent, before 504 (default 30)")
    .option('--max-connections <n>', 'proxy client connections held at once (default (fd soft limit - 64) / 2)')
    .option('--header-timeout <sec>', 'a proxy connection must send its request head this soon, else 408 and close (default 10)')
    .option('--request-body-timeout <sec>', 'longest pause of a client sending its request body before 408 (default 30)')
    .option('--inspector-url <ws-url>', "also send inspection events to a Stately inspector's WebSocket")
    .option('--tls-cert <file>', 'PEM certificate (chain): the proxy listener speaks TLS, ALPN h2 and http/1.1')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--workers <n|auto>', 'processes serving the proxy listener: a number, or auto (one per CPU) (default 1: this process)')
    .option('--trusted-proxy <cidr>', 'a proxy in front whose X-Forwarded-*/Forwarded are kept; repeatable', collect)
    .action(async (opts: Record<string, unknown>) => {
      const { runDaemon } = await import('./daemon.js');
      const config = loadConfig({ flags: opts });
      process.exitCode = await runDaemon(config);
    });
}

function stateCommand(): Command {
  return new Command('state')
    .description('print the saved state without starting a node')
    .option('--data-dir <dir>', 'holds state.db', process.env.GRACEFUL_EDGE_DATA_DIR ?? './data')
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string; json?: boolean }) => {
      const { printState } = await import('./store/state-command.js');
      process.exitCode = printState(opts.dataDir, Boolean(opts.json));
    });
}

function replayCommand(): Command {
  return new Command('replay')
    .description('replay the last run through the statechart without I/O; exit 1 on divergence')
    .option('--data-dir <dir>', 'holds state.db', process.env.GRACEFUL_EDGE_DATA_DIR ?? './data')
    .option('--json', 'print JSON')
    .option('--export <file>', 'also write the recorded run as JSON to this file')
    .action(async (opts: { dataDir: string; json?: boolean; export?: string }) => {
      const { replayCommand: replay } = await import('./replay/replay-command.js');
      process.exitCode = replay(opts.dataDir, { json: Boolean(opts.json), exportTo: opts.export ?? null });
    });
}

function restartCommand(): Command {
  return new Command('restart')
    .description('hot restart: SIGHUP to the node holding the data dir lock (it hands over to a fresh process)')
    .option('--data-dir <dir>', 'holds node.lock', process.env.GRACEFUL_EDGE_DATA_DIR ?? './data')
    .action(async (opts: { dataDir: string }) => {
      const { restartCommand: restart } = await import('./restart/restart-command.js');
      process.exitCode = restart(opts.dataDir);
    });
}

const program = new Command('graceful-edge')
  .description('edge proxy daemon for a mesh of peer nodes, driven by an XState statechart')
  .exitOverride()
  .addCommand(runCommand().exitOverride())
  .addCommand(stateCommand().exitOverride())
  .addCommand(replayCommand().exitOverride())
  .addCommand(restartCommand().exitOverride());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`graceful-edge: ${error.message}\n`);
    process.exitCode = 2;
  } else if (error instanceof CommanderError) {
    // help and version are not errors; every usage error is exit 2.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`graceful-edge: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
