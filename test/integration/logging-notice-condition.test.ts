/**
 * `[logging] *_on_notice_condition` through a running server: only the requests a condition selects
 * have their headers or content logged, at notice level, with credentials masked and limit_content
 * applied.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { DavClient, put } from './helpers/dav-client.js';

const running: RunningAlmanac[] = [];
after(async () => {
  for (const a of running) await a.stop();
});

const event = (uid: string, summary: string): string =>
  `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\n` +
  `DTSTART:20260101T100000Z\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;

/** The notice-level blocks of the log that start with `what`. */
function noticeBlocks(lines: readonly string[], what: string): string[] {
  const blocks: string[] = [];
  lines.forEach((line, i) => {
    if (!line.includes('[NOTICE]') || !line.includes(`${what} (on notice condition):`)) return;
    const body: string[] = [];
    for (let j = i + 1; j < lines.length && (lines[j] ?? '').startsWith(' '); j++) body.push(lines[j] ?? '');
    blocks.push(body.join('\n'));
  });
  return blocks;
}

describe('[logging] *_on_notice_condition', () => {
  it('logs only what the conditions select, at notice level', async () => {
    const logLines: string[] = [];
    const condition = (value: object): string => JSON.stringify(value);
    const a = await startAlmanac({
      logLines,
      config: {
        logging: {
          level: 'info',
          limit_content: '200',
          // Failed PUTs: their request headers (the password masked) and content.
          request_header_on_notice_condition: condition({
            method: { match: 'equal', value: 'PUT' },
            status: { match: '>=', value: 400 },
          }),
          request_content_on_notice_condition: condition({
            method: { match: 'equal', value: 'PUT' },
            status: { match: '>=', value: 400 },
          }),
          // Listings by one client of alice's calendar.
          response_content_on_notice_condition: condition({
            path: { match: 'startswith', value: '/alice/cal/' },
            useragent: { match: 're', value: 'Thunderbird/1[0-9]' },
            status: { match: '==', value: 207 },
          }),
          // Every DELETE by alice from this machine.
          response_header_on_notice_condition: condition({
            method: { match: 'equal', value: 'DELETE' },
            login: { match: 'equal', value: 'alice' },
            host: { match: 'included', value: '127.0.0.0/8' },
          }),
        },
      },
    });
    running.push(a);
    const dav = new DavClient(a.url);
    assert.equal((await dav.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
    assert.equal((await put(dav, '/alice/cal/good.ics', event('good', 'Good one'))).status, 201);
    const bad = await put(dav, '/alice/cal/bad.ics', 'BEGIN:VCALENDAR\r\nnot iCalendar at all\r\n');
    assert.ok(bad.status >= 400 && bad.status < 500, String(bad.status));

    const requestHeaders = noticeBlocks(logLines, 'Request header');
    assert.equal(requestHeaders.length, 1, logLines.join('\n'));
    assert.match(requestHeaders[0] ?? '', /^ content-type: text\/calendar/im);
    assert.match(requestHeaders[0] ?? '', /^ authorization: Basic \*\*\*$/im);
    const requestContent = noticeBlocks(logLines, 'Request content');
    assert.deepEqual(requestContent, [' BEGIN:VCALENDAR\n not iCalendar at all']);

    const listing = (agent: string): Promise<unknown> =>
      dav.request('PROPFIND', '/alice/cal/', {
        user: 'alice',
        headers: { Depth: '1', 'User-Agent': agent },
      });
    await listing('Mozilla/5.0 Thunderbird/128.0');
    await listing('DAVx5/4.4');
    const contents = noticeBlocks(logLines, 'Response content');
    assert.equal(contents.length, 1, 'one listing selected by its User-Agent');
    assert.match(contents[0] ?? '', /multistatus/);
    assert.match(contents[0] ?? '', /\.\.\.\(shortened because original length \d+ > limit 200\)/);

    assert.equal(noticeBlocks(logLines, 'Response header').length, 0);
    assert.equal((await dav.request('DELETE', '/alice/cal/good.ics', { user: 'alice' })).status, 200);
    const responseHeaders = noticeBlocks(logLines, 'Response header');
    assert.equal(responseHeaders.length, 1);
    assert.match(responseHeaders[0] ?? '', /^ content-length: /im);
    // Nothing else reached the notice level.
    assert.equal(logLines.filter((l) => l.includes('[NOTICE]')).length, 4);
  });

  it('with the defaults ({}), nothing is logged at notice level', async () => {
    const logLines: string[] = [];
    const a = await startAlmanac({ logLines });
    running.push(a);
    const dav = new DavClient(a.url);
    assert.equal((await dav.request('MKCALENDAR', '/alice/cal/', { user: 'alice' })).status, 201);
    await put(dav, '/alice/cal/bad.ics', 'nonsense');
    assert.deepEqual(
      logLines.filter((l) => l.includes('[NOTICE]')),
      [],
    );
  });
});
