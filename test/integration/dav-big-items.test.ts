/**
 * Items of several megabytes (a vCard with a big photo, an event with a big attachment) are stored,
 * queried and exported in time proportional to their size, and other users are answered meanwhile.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { whileRunning } from '../helpers/responsiveness.js';
import {
  C,
  CR,
  DavClient,
  errorMessage,
  mkaddressbook,
  mkcalendar,
  parseMultistatus,
  preconditions,
} from './helpers/dav-client.js';

const MB = 1_000_000;

/** Base64 of `bytes` pseudo-random bytes, folded at 75 octets after `head`. */
function folded(head: string, bytes: number): string[] {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 17) & 0xff;
  const line = head + data.toString('base64');
  const out = [line.slice(0, 75)];
  for (let i = 75; i < line.length; i += 74) out.push(` ${line.slice(i, i + 74)}`);
  return out;
}

function bigCard(bytes: number): string {
  return [
    'BEGIN:VCARD',
    'VERSION:3.0',
    'UID:big-card',
    'FN:Big Picture',
    'N:Picture;Big;;;',
    ...folded('PHOTO;ENCODING=b;TYPE=JPEG:', bytes),
    'EMAIL;TYPE=INTERNET:big@example.org',
    'END:VCARD',
    '',
  ].join('\r\n');
}

function bigEvent(bytes: number): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//almanac tests//EN',
    'BEGIN:VEVENT',
    'UID:big-event',
    'DTSTAMP:20240101T000000Z',
    'DTSTART:20240110T100000Z',
    'DTEND:20240110T110000Z',
    'SUMMARY:Big attachment',
    ...folded('ATTACH;ENCODING=BASE64;VALUE=BINARY;FMTTYPE=image/jpeg:', bytes),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

describe('items of several megabytes', () => {
  let server: RunningAlmanac;
  let dav: DavClient;
  /** Another user's small request: what must stay fast while a big one runs. */
  const probe = async (): Promise<void> => {
    const r = await dav.propfind('/bob/', ['{DAV:}displayname'], '0', 'bob');
    assert.equal(r.status, 207);
  };

  before(async () => {
    server = await startAlmanac();
    dav = new DavClient(server.url);
    assert.equal((await mkaddressbook(dav, '/alice/contacts/')).status, 201);
    assert.equal((await mkcalendar(dav, '/alice/cal/')).status, 201);
    await probe();
  });

  after(async () => {
    await server.stop();
  });

  it('a 9 MB vCard is stored, found by addressbook-query and exported; bob waits < 1 s', async () => {
    const card = bigCard(6.6 * MB);
    assert.ok(card.length > 9 * MB && card.length < 9.5 * MB, `card of ${card.length} bytes`);
    const put = await whileRunning(
      dav.request('PUT', '/alice/contacts/big.vcf', {
        user: 'alice',
        body: card,
        headers: { 'Content-Type': 'text/vcard' },
      }),
      probe,
    );
    assert.equal(put.result.status, 201, put.result.text);
    assert.ok(put.slowestMs < 1000, `bob waited ${put.slowestMs.toFixed(0)} ms during the PUT`);

    const query = await whileRunning(
      dav.request('REPORT', '/alice/contacts/', {
        user: 'alice',
        headers: { Depth: '1', 'Content-Type': 'application/xml' },
        body: `<?xml version="1.0"?><CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
          <D:prop><D:getetag/><CR:address-data><CR:prop name="FN"/><CR:prop name="PHOTO"/></CR:address-data></D:prop>
          <CR:filter><CR:prop-filter name="EMAIL"><CR:text-match collation="i;unicode-casemap" match-type="contains">BIG@</CR:text-match></CR:prop-filter></CR:filter>
        </CR:addressbook-query>`,
      }),
      probe,
    );
    assert.equal(query.result.status, 207, query.result.text.slice(0, 300));
    const data = parseMultistatus(query.result.text)
      .props.get('/alice/contacts/big.vcf')
      ?.get(CR('address-data'));
    assert.ok(data?.element.text.includes('FN:Big Picture'));
    assert.ok((data?.element.text.length ?? 0) > 9 * MB, 'the photo is in the answer');
    assert.ok(query.slowestMs < 1000, `bob waited ${query.slowestMs.toFixed(0)} ms during the query`);

    const exported = await whileRunning(dav.request('GET', '/alice/contacts/', { user: 'alice' }), probe);
    assert.equal(exported.result.status, 200);
    assert.equal(exported.result.text, card);
    assert.ok(exported.slowestMs < 1000, `bob waited ${exported.slowestMs.toFixed(0)} ms during the export`);
  });

  it('a broken 2 MB card or event is refused with the precondition and the reason', async () => {
    const noFn = bigCard(1.5 * MB).replace('FN:Big Picture\r\n', '');
    const r1 = await dav.request('PUT', '/alice/contacts/nofn.vcf', {
      user: 'alice',
      body: noFn,
      headers: { 'Content-Type': 'text/vcard' },
    });
    assert.equal(r1.status, 403);
    assert.deepEqual(preconditions(r1.text), [CR('valid-address-data')]);
    assert.match(errorMessage(r1.text), /vCard without FN/);
    const mismatch = bigEvent(1.5 * MB).replace('END:VEVENT', 'END:VTODO');
    const r2 = await dav.request('PUT', '/alice/cal/mismatch.ics', {
      user: 'alice',
      body: mismatch,
      headers: { 'Content-Type': 'text/calendar' },
    });
    assert.equal(r2.status, 403);
    assert.deepEqual(preconditions(r2.text), [C('valid-calendar-data')]);
    assert.match(errorMessage(r2.text), /END:VTODO closes BEGIN:VEVENT/);
  });

  it('a 9 MB event is stored, found by calendar-query and exported; bob waits < 1 s', async () => {
    const event = bigEvent(6.6 * MB);
    const put = await whileRunning(
      dav.request('PUT', '/alice/cal/big.ics', {
        user: 'alice',
        body: event,
        headers: { 'Content-Type': 'text/calendar' },
      }),
      probe,
    );
    assert.equal(put.result.status, 201, put.result.text);
    assert.ok(put.slowestMs < 1000, `bob waited ${put.slowestMs.toFixed(0)} ms during the PUT`);

    const query = await whileRunning(
      dav.request('REPORT', '/alice/cal/', {
        user: 'alice',
        headers: { Depth: '1', 'Content-Type': 'application/xml' },
        body: `<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
          <D:prop><D:getetag/><C:calendar-data/></D:prop>
          <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
            <C:time-range start="20240110T000000Z" end="20240111T000000Z"/>
            <C:prop-filter name="SUMMARY"><C:text-match>attachment</C:text-match></C:prop-filter>
          </C:comp-filter></C:comp-filter></C:filter>
        </C:calendar-query>`,
      }),
      probe,
    );
    assert.equal(query.result.status, 207, query.result.text.slice(0, 300));
    const data = parseMultistatus(query.result.text).props.get('/alice/cal/big.ics')?.get(C('calendar-data'));
    assert.equal(data?.element.text, event);
    assert.ok(query.slowestMs < 1000, `bob waited ${query.slowestMs.toFixed(0)} ms during the query`);

    const exported = await whileRunning(dav.request('GET', '/alice/cal/', { user: 'alice' }), probe);
    assert.equal(exported.result.status, 200);
    assert.ok(exported.result.text.includes('SUMMARY:Big attachment'));
    assert.ok(exported.result.text.length > 9 * MB);
    assert.ok(exported.slowestMs < 1000, `bob waited ${exported.slowestMs.toFixed(0)} ms during the export`);
  });
});
