// `node --import tsx bench/pg-cluster.ts [seconds]` (after `npm run build`): throughput of a
// GET/PROPFIND/PUT mix through nginx to one Almanac on PostgreSQL, then to two Almanacs on the same
// database (round-robin), alternating rounds so that both see the same machine load; prints req/s
// per round with the load average.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROPFIND_CTAG } from './bodies.js';
import { eventHref, eventIcs, writeDataFolder } from './data.js';
import { send } from './http.js';
import { createTestDatabase, dropTestDatabase } from '../test/helpers/postgres.js';
import { freePort, nginxDir, startNginx } from '../test/interop/helpers/nginx.js';

const seconds = Number(process.argv[2] ?? 8);
const N = 1000;
const NAME = `cal-${N}`;
const CAL = `/bench/${NAME}/`;
const CLIENTS = 16;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();

const dir = mkdtempSync(join(tmpdir(), 'almanac-pgcluster-'));
writeFileSync(join(dir, 'users'), 'bench:bench\n');
await writeDataFolder(join(dir, 'f'), { user: 'bench', calendars: { [NAME]: N }, addressbooks: {} });
const url = await createTestDatabase();
const copy = spawnSync(
  process.execPath,
  ['dist/cli/main.js', 'storage', 'copy', '--from', join(dir, 'f'), '--to', url],
  {
    encoding: 'utf8',
  },
);
if (copy.status !== 0) throw new Error(copy.stderr);

async function instance(name: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, `${name}.ini`);
  writeFileSync(
    conf,
    `[server]\nhosts = 127.0.0.1:${port}\nmax_connections = 64\n` +
      `[auth]\ntype = htpasswd\nhtpasswd_filename = ${join(dir, 'users')}\nhtpasswd_encryption = plain\ndelay = 0.01\n` +
      `[storage]\ntype = postgresql\npostgresql_url = ${url}\n[logging]\nlevel = warning\n`,
  );
  const proc = spawn(process.execPath, ['dist/cli/main.js', '--config', conf], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const agent = new Agent();
  for (let i = 0; i < 200; i++) {
    const up = await send(`http://127.0.0.1:${port}`, { method: 'OPTIONS', path: '/', agent }).then(
      () => true,
      () => false,
    );
    if (up) return { port, proc };
    await sleep(50);
  }
  throw new Error(`instance ${name} did not start`);
}

const a = await instance('a');
const b = await instance('b');

/** CLIENTS clients for `seconds`: 70% GET item, 20% PROPFIND Depth 0 (ctag, token), 10% PUT. */
async function load(base: string, round: number): Promise<{ rps: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const until = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  let k = round * 100000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < until) {
        const i = (k++ * 7919) % N;
        const pick = k % 10;
        const r =
          pick < 7
            ? await send(base, { method: 'GET', path: CAL + eventHref(NAME, i), agent })
            : pick < 9
              ? await send(base, {
                  method: 'PROPFIND',
                  path: CAL,
                  agent,
                  headers: { Depth: '0', 'Content-Type': 'application/xml' },
                  body: PROPFIND_CTAG,
                })
              : await send(base, {
                  method: 'PUT',
                  path: CAL + eventHref(NAME, i),
                  agent,
                  headers: { 'Content-Type': 'text/calendar' },
                  body: eventIcs(NAME, i, k),
                });
        if (r.status >= 400) errors++;
        else done++;
      }
    }),
  );
  agent.destroy();
  return { rps: done / seconds, errors };
}

const setups: Array<[string, string]> = [
  ['one instance', `server 127.0.0.1:${a.port};`],
  ['two instances', `server 127.0.0.1:${a.port}; server 127.0.0.1:${b.port};`],
];
const results: Record<string, number[]> = {};
for (let round = 0; round < 4; round++) {
  const [label, servers] = setups[round % 2] as [string, string];
  const nginx = await startNginx(nginxDir(), {
    http: `upstream almanac_pool { ${servers} }`,
    locations: `location / { proxy_pass http://almanac_pool; proxy_set_header Host $host:$server_port; }`,
  });
  const before = uptime();
  const r = await load(nginx.url, round);
  await nginx.stop();
  (results[label] ??= []).push(r.rps);
  console.log(`${label}: ${r.rps.toFixed(0)} req/s, ${r.errors} errors (load before: ${before})`);
}
for (const [label, xs] of Object.entries(results))
  console.log(`${label}: ${xs.map((x) => x.toFixed(0)).join(', ')} req/s`);
for (const i of [a, b]) i.proc.kill('SIGTERM');
await sleep(500);
await dropTestDatabase(url).catch(() => undefined);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
