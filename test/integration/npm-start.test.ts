/**
 * `npm start` under a supervisor: SIGTERM goes to the npm process (what systemd, a container runtime or
 * a process manager started), and the server must stop with it: the request in flight finishes, then
 * nothing is left listening. Runs the built server (dist/, as after `npm install`).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../helpers/net.js';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'almanac-npm-start-'));
after(() => {
  // A server that outlived npm (the failure this file tests for) must not outlive the test too.
  for (const pid of serversOn(dir)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const AUTH = `Basic ${Buffer.from('alice:alicepw').toString('base64')}`;

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends a request's head and the first part of its body; `finish()` sends the rest and reads the answer. */
function slowRequest(port: number, head: string, body: string): { finish(): Promise<string> } {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString('utf8')));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const half = Math.floor(body.length / 2);
  socket.write(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`);
  socket.write(body.slice(0, half));
  return {
    async finish() {
      // No half-close: the client keeps its side open until the answer, as HTTP clients do.
      socket.write(body.slice(half));
      await closed;
      return answer;
    },
  };
}

const EVENT = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Almanac tests//EN',
  'BEGIN:VEVENT',
  'UID:in-flight@almanac.test',
  'DTSTAMP:20240101T000000Z',
  'DTSTART:20240301T100000Z',
  'DURATION:PT1H',
  'SUMMARY:Written while the server stops',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

void describe('npm start under a supervisor', () => {
  void it('SIGTERM to npm finishes the request in flight, then no process is left listening', async () => {
    const users = join(dir, 'users');
    const folder = join(dir, 'collections');
    writeFileSync(users, 'alice:alicepw\n');
    const port = await freePort();
    const npm = spawn(
      'npm',
      [
        'start',
        '--',
        '--config',
        '',
        '--server-hosts',
        `127.0.0.1:${port}`,
        '--storage-filesystem-folder',
        folder,
        '--auth-type',
        'htpasswd',
        '--auth-htpasswd-filename',
        users,
        '--auth-htpasswd-encryption',
        'plain',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, HOME: dir, npm_config_update_notifier: 'false' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let log = '';
    npm.stdout.on('data', (c: Buffer) => (log += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<number | null>((r) => npm.on('exit', (code) => r(code)));
    try {
      await waitFor(() => canConnect(port), `npm start to listen on ${port}: ${log}`);
      const mk = await fetch(`http://127.0.0.1:${port}/alice/cal/`, {
        method: 'MKCALENDAR',
        headers: { Authorization: AUTH },
      });
      assert.equal(mk.status, 201, await mk.text());

      const put = slowRequest(
        port,
        `PUT /alice/cal/in-flight.ics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTH}\r\n` +
          'Content-Type: text/calendar\r\n',
        EVENT,
      );
      await new Promise((r) => setTimeout(r, 300));
      npm.kill('SIGTERM');
      // The server has stopped accepting, but the request it was reading goes on.
      await waitFor(async () => !(await canConnect(port)), 'the listener to close', 10_000);
      const answer = await put.finish();
      assert.match(answer, /^HTTP\/1\.1 201 /, answer);
      assert.ok(existsSync(join(folder, 'collection-root/alice/cal/in-flight.ics')));
    } finally {
      npm.kill('SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 20_000))),
    ]);
    clearTimeout(timer);
    npm.stdout.destroy();
    npm.stderr.destroy();
    // npm waits for the server it started; nothing is left behind, listening or not.
    assert.equal(await canConnect(port), false, `something still listens on ${port}`);
    assert.deepEqual(serversOn(folder), [], 'no almanac process is left running');
    assert.equal(code, 0, log);
    assert.match(log, /SIGTERM received/);
  });
});

/** Pids of the servers whose command line names `folder` (the one npm started, if still alive). */
function serversOn(folder: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(folder) && cmdline.includes('main.js')) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
