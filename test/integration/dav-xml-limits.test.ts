/**
 * XML request bodies past the parser's limits (nesting depth, element count) are refused as soon as
 * the limit is reached, and a big valid body is parsed without keeping other users waiting.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { whileRunning } from '../helpers/responsiveness.js';
import { DavClient } from './helpers/dav-client.js';

const XML = { 'Content-Type': 'application/xml; charset=utf-8', Depth: '0' };

describe('XML bodies past the limits', () => {
  let server: RunningAlmanac;
  let dav: DavClient;
  const probe = async (): Promise<void> => {
    const r = await dav.propfind('/bob/', ['{DAV:}displayname'], '0', 'bob');
    assert.equal(r.status, 207);
  };
  const propfind = (body: string): ReturnType<DavClient['request']> =>
    dav.request('PROPFIND', '/alice/', { user: 'alice', body, headers: XML });

  before(async () => {
    server = await startAlmanac();
    dav = new DavClient(server.url);
    await probe();
  });
  after(async () => server.stop());

  for (const levels of [20_000, 100_000]) {
    it(`${levels.toLocaleString('en')} levels of nesting: 400 at the depth limit, bob waits < 1 s`, async () => {
      const body = `<D:propfind xmlns:D="DAV:">${'<a>'.repeat(levels)}${'</a>'.repeat(levels)}</D:propfind>`;
      const { result, slowestMs } = await whileRunning(propfind(body), probe);
      assert.equal(result.status, 400);
      assert.match(result.text, /nested deeper than 64/);
      assert.ok(slowestMs < 1000, `bob waited ${slowestMs.toFixed(0)} ms`);
    });
  }

  it('20 MB of <a/>: 400 at the element limit, bob waits < 1 s', async () => {
    const body = `<D:propfind xmlns:D="DAV:"><D:prop>${'<a/>'.repeat(5_000_000)}</D:prop></D:propfind>`;
    const { result, slowestMs } = await whileRunning(propfind(body), probe);
    assert.equal(result.status, 400);
    assert.match(result.text, /more than 200000 elements/);
    assert.ok(slowestMs < 1000, `bob waited ${slowestMs.toFixed(0)} ms`);
  });

  it('5 MB of character references: 400 at the limit, bob waits < 1 s', async () => {
    const body = `<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>${'x&amp;'.repeat(1_000_000)}</D:displayname></D:prop></D:propfind>`;
    const { result, slowestMs } = await whileRunning(propfind(body), probe);
    assert.equal(result.status, 400);
    assert.match(result.text, /more than 200000 entity or character references/);
    assert.ok(slowestMs < 1000, `bob waited ${slowestMs.toFixed(0)} ms`);
  });

  it('a valid 30 MB body is parsed in turns: 207, bob waits < 1 s', async () => {
    const text = 'x&lt;y '.repeat(100_000) + 'plain text '.repeat(2_700_000);
    const body = `<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>${text}</D:displayname></D:prop></D:propfind>`;
    const { result, slowestMs } = await whileRunning(propfind(body), probe);
    assert.equal(result.status, 207);
    assert.ok(slowestMs < 1000, `bob waited ${slowestMs.toFixed(0)} ms`);
  });
});
