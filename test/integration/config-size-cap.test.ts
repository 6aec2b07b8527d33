/**
 * Radicale's cap of max_resource_size to 80 % of max_content_length, decided once by the loader, holds
 * for every layer that reads the limit: PUT and the storage's index of a folder.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { C, DavClient, mkcalendar, preconditions, put, vevent } from './helpers/dav-client.js';

let server: RunningAlmanac;
let c: DavClient;

before(async () => {
  // 80 % of 10,000 is 8,000: the configured 100,000 does not hold. On the filesystem, whose folder the
  // second test writes into (also in the PostgreSQL pass).
  server = await startAlmanac({
    config: {
      server: { max_content_length: '10000', max_resource_size: '100000' },
      storage: { type: 'multifilesystem' },
    },
  });
  c = new DavClient(server.url);
  assert.equal((await mkcalendar(c, '/alice/cal/')).status, 201);
});
after(async () => server.stop());

const sized = (uid: string, bytes: number): string => {
  const base = vevent(uid, { extra: 'DESCRIPTION:' });
  return vevent(uid, { extra: `DESCRIPTION:${'x'.repeat(bytes - base.length)}` });
};

it('a PUT over 80 % of max_content_length is 413 with max-resource-size; one under it is stored', async () => {
  const big = sized('big', 9000);
  assert.ok(Buffer.byteLength(big) > 8000 && Buffer.byteLength(big) < 10000);
  const r = await put(c, '/alice/cal/big.ics', big);
  assert.equal(r.status, 413);
  assert.deepEqual(preconditions(r.text), [C('max-resource-size')]);
  assert.equal((await put(c, '/alice/cal/small.ics', sized('small', 7000))).status, 201);
});

it('the folder index skips a file over the capped limit, as Radicale does', async () => {
  writeFileSync(join(server.folder, 'collection-root', 'alice', 'cal', 'ondisk.ics'), sized('ondisk', 9000));
  assert.equal((await c.request('GET', '/alice/cal/ondisk.ics', { user: 'alice' })).status, 404);
  writeFileSync(join(server.folder, 'collection-root', 'alice', 'cal', 'fits.ics'), sized('fits', 7000));
  assert.equal((await c.request('GET', '/alice/cal/fits.ics', { user: 'alice' })).status, 200);
});
