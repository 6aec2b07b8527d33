/**
 * A private RabbitMQ broker (Debian's rabbitmq-server) for tests: its own node name, folders, Erlang
 * cookie (HOME) and epmd, all on 127.0.0.1 ports of its own, so it neither needs nor touches a system
 * broker and runs as root (CI) or as any user. The real start script under /usr/lib/rabbitmq/bin is
 * used: /usr/sbin/rabbitmq-server would switch to the rabbitmq user. Starting takes 10-30 s.
 * stop() and start() again keep the same node and data (a broker restart).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { freePort } from './net.js';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

export interface RunningRabbit {
  /** amqp://guest:guest@127.0.0.1:<port>/ */
  readonly url: string;
  readonly port: number;
  /** Starts the broker (again), waits until it accepts AMQP connections. */
  start(): Promise<void>;
  /** Stops the broker process (the data stays). */
  stop(): Promise<void>;
  /** Stops it and removes everything. */
  destroy(): Promise<void>;
  /** The broker's output so far (for failure messages). */
  output(): string;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startRabbit(): Promise<RunningRabbit> {
  const dir = mkdtempSync(join(tmpdir(), 'almanac-rabbit-'));
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${port}`,
      'loopback_users.guest = true',
      'log.console = true',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    LANG: 'C.UTF-8',
    RABBITMQ_NODENAME: `almanac${process.pid}@localhost`,
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  let proc: ChildProcess | undefined;
  let out = '';
  const url = `amqp://guest:guest@127.0.0.1:${port}/`;

  async function start(): Promise<void> {
    const child = spawn(SERVER, [], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    proc = child;
    const collect = (b: Buffer): void => {
      if (out.length < 200_000) out += b.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`rabbitmq-server exited (${child.exitCode}):\n${out}`);
      if (await portOpen(port)) {
        try {
          const c = await connect(url);
          await c.close();
          return;
        } catch {
          // listening but not ready yet
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`rabbitmq-server did not start in 120 s:\n${out}`);
  }

  async function stop(): Promise<void> {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // The whole process group: the start script and the Erlang VM it runs.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
    for (let i = 0; i < 100 && (await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  await start();
  return {
    url,
    port,
    start,
    stop,
    output: () => out,
    destroy: async () => {
      await stop();
      // epmd runs as a daemon of its own, on this broker's private port.
      spawnSync('epmd', ['-kill'], { env, stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
