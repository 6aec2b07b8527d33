/**
 * WebDAV-Push keeps its registrations and keys in `<filesystem_folder>/.Almanac.push/`, beside
 * `collection-root/`: Debian's Radicale 3.1.8 serving the same folder afterwards lists and serves
 * the collections as before, without a warning, and leaves the push folder alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createECDH, randomBytes } from 'node:crypto';
import { startAlmanac } from '../helpers/almanac.js';
import { startRadicale } from '../helpers/radicale.js';

const AUTH = { Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}` };
const PUSH = 'https://bitfire.at/webdav-push';

void test('Radicale 3.1.8 lists and serves a folder that holds .Almanac.push/', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'almanac-push-radicale-'));
  try {
    const a = await startAlmanac({ folder });
    try {
      assert.equal((await fetch(`${a.url}/alice/cal/`, { method: 'MKCALENDAR', headers: AUTH })).status, 201);
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const body =
        `<?xml version="1.0"?><push-register xmlns="${PUSH}"><subscription><web-push-subscription>` +
        `<push-resource>https://push.example.net/up/1</push-resource>` +
        `<subscription-public-key type="p256dh">${ecdh.getPublicKey().toString('base64url')}</subscription-public-key>` +
        `<auth-secret>${randomBytes(16).toString('base64url')}</auth-secret>` +
        `</web-push-subscription></subscription></push-register>`;
      const reg = await fetch(`${a.url}/alice/cal/`, {
        method: 'POST',
        headers: { ...AUTH, 'Content-Type': 'application/xml' },
        body,
      });
      assert.equal(reg.status, 201);
    } finally {
      await a.stop();
    }
    const push = join(folder, '.Almanac.push');
    const before = readdirSync(push)
      .sort()
      .map((f) => [f, readFileSync(join(push, f), 'utf8')]);
    assert.deepEqual(
      before.map(([f]) => f),
      ['secrets.json', 'subscriptions.json'],
    );

    const r = await startRadicale(folder);
    let stderr = '';
    r.proc.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    try {
      const list = await fetch(`${r.url}/alice/`, { method: 'PROPFIND', headers: { ...AUTH, Depth: '1' } });
      assert.equal(list.status, 207);
      const text = await list.text();
      assert.match(text, /\/alice\/cal\//);
      assert.doesNotMatch(text, /Almanac\.push/);
      const root = await fetch(`${r.url}/`, { method: 'PROPFIND', headers: { ...AUTH, Depth: '1' } });
      assert.equal(root.status, 207);
      assert.doesNotMatch(await root.text(), /Almanac\.push/);
      const put = await fetch(`${r.url}/alice/cal/e.ics`, {
        method: 'PUT',
        headers: { ...AUTH, 'Content-Type': 'text/calendar' },
        body: [
          'BEGIN:VCALENDAR',
          'VERSION:2.0',
          'PRODID:-//t//EN',
          'BEGIN:VEVENT',
          'UID:e',
          'DTSTAMP:20260101T000000Z',
          'DTSTART:20260101T100000Z',
          'END:VEVENT',
          'END:VCALENDAR',
          '',
        ].join('\r\n'),
      });
      assert.equal(put.status, 201);
    } finally {
      r.stop();
    }
    assert.doesNotMatch(stderr, /WARNING|ERROR/);
    const after = readdirSync(push)
      .sort()
      .map((f) => [f, readFileSync(join(push, f), 'utf8')]);
    assert.deepEqual(after, before, 'Radicale left the push folder alone');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
