/**
 * Radicale 3.1.8 can take back every folder Almanac writes: after each PUT of the kinds clients and
 * attackers send (refused or accepted), a copy of the folder without Radicale's item cache (so that
 * Radicale parses every item itself) passes `radicale --verify-storage`, and Radicale serves it
 * (PROPFIND Depth 1 and GET of every collection). `almanac --verify-storage` agrees, and both find
 * each broken file of a folder written by hand.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { copyFixture, startRadicale } from '../helpers/radicale.js';
import { loadVcard } from '../fixtures/vcard/load.js';
import { run } from './helpers/run.js';
import { DavClient, errorMessage, mkaddressbook, mkcalendar } from '../integration/helpers/dav-client.js';
import { createPlugins, pluginSettings, verifierFor } from '../../src/cli/start.js';
import { testConfig } from '../helpers/config.js';

const ROOT = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'almanac-radicale-verify-'));
after(() => rmSync(work, { recursive: true, force: true }));

const cal = (...lines: string[]): string =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
const event = (uid: string, ...lines: string[]): string[] => [
  'BEGIN:VEVENT',
  `UID:${uid}`,
  'DTSTAMP:20240101T000000Z',
  ...lines,
  'END:VEVENT',
];
const card = (uid: string, ...lines: string[]): string =>
  ['BEGIN:VCARD', 'VERSION:3.0', `UID:${uid}`, ...lines, 'END:VCARD', ''].join('\r\n');
const START = 'DTSTART:20240110T100000Z';

interface Put {
  readonly what: string;
  readonly path: string;
  readonly body: string;
  readonly type: string;
  readonly status: number;
  /** What the refusal must say. */
  readonly reason?: RegExp;
}

const ICS = 'text/calendar';
const VCF = 'text/vcard';
const PUTS: readonly Put[] = [
  {
    what: '"hello" into a principal',
    path: '/alice/note.txt',
    body: 'hello\n',
    type: 'text/plain',
    status: 400,
    reason: /not iCalendar or vCard/,
  },
  {
    what: 'an empty body into a principal',
    path: '/alice/empty.txt',
    body: '',
    type: 'text/plain',
    status: 400,
    reason: /body is empty/,
  },
  {
    what: 'BEGIN:VEVENT closed by END:VTODO',
    path: '/alice/cal/a.ics',
    body: cal('BEGIN:VEVENT', 'UID:a', START, 'END:VTODO'),
    type: ICS,
    status: 403,
    reason: /END:VTODO closes BEGIN:VEVENT/,
  },
  {
    what: 'a VEVENT without DTSTART',
    path: '/alice/cal/b.ics',
    body: cal(...event('b', 'SUMMARY:x')),
    type: ICS,
    status: 403,
    reason: /VEVENT without DTSTART/,
  },
  {
    what: 'a whole calendar with a VEVENT without DTSTART',
    path: '/alice/imported/',
    body: cal(...event('c1', START), ...event('c2', 'SUMMARY:x')),
    type: ICS,
    status: 403,
    reason: /VEVENT without DTSTART/,
  },
  {
    what: 'two DTSTART',
    path: '/alice/cal/d.ics',
    body: cal(...event('d', START, START)),
    type: ICS,
    status: 403,
    reason: /more than one DTSTART/,
  },
  {
    what: 'an override without its main component',
    path: '/alice/cal/e.ics',
    body: cal(...event('e', START, 'RECURRENCE-ID:20240110T100000Z')),
    type: ICS,
    status: 403,
    reason: /no main component/,
  },
  {
    what: 'a line that is no content line',
    path: '/alice/cal/f.ics',
    body: cal(...event('f', START, 'garbage')),
    type: ICS,
    status: 403,
    reason: /cannot read "garbage"/,
  },
  {
    what: 'an invalid RECURRENCE-ID',
    path: '/alice/cal/g.ics',
    body: cal(...event('g', START, 'RECURRENCE-ID:garbage')),
    type: ICS,
    status: 403,
    reason: /RECURRENCE-ID value "garbage"/,
  },
  {
    what: 'a vCard without FN',
    path: '/alice/book/a.vcf',
    body: card('ca', 'N:Doe;;;;'),
    type: VCF,
    status: 403,
    reason: /without FN/,
  },
  {
    what: 'a vCard with a broken photo',
    path: '/alice/book/b.vcf',
    body: card('cb', 'FN:B', 'PHOTO;ENCODING=b;TYPE=JPEG:AAAAA'),
    type: VCF,
    status: 403,
    reason: /PHOTO cannot be read/,
  },
  {
    what: 'an event',
    path: '/alice/cal/ok.ics',
    body: cal(...event('ok', START, 'SUMMARY:fine')),
    type: ICS,
    status: 201,
  },
  {
    what: 'a DATE with TZID (Mozilla)',
    path: '/alice/cal/tzdate.ics',
    body: cal(...event('tzdate', 'DTSTART;TZID=Europe/Paris:20130903', 'DTEND;TZID=Europe/Paris:20130904')),
    type: ICS,
    status: 201,
  },
  {
    what: 'control characters',
    path: '/alice/cal/ctl.ics',
    body: cal(...event('ctl', START, 'SUMMARY:bell\u0007 and nul\u0000')),
    type: ICS,
    status: 201,
  },
  {
    what: 'METHOD:PUBLISH',
    path: '/alice/cal/method.ics',
    body: cal('METHOD:PUBLISH', ...event('method', START)),
    type: ICS,
    status: 201,
  },
  {
    what: 'a parameter without a value',
    path: '/alice/cal/bare.ics',
    body: cal(...event('bare', START, 'SUMMARY;X-FOO:x')),
    type: ICS,
    status: 201,
  },
  {
    what: "Lightning's DTEND with DURATION:PT0S",
    path: '/alice/cal/zero.ics',
    body: cal(...event('zero', START, 'DTEND:20240110T110000Z', 'DURATION:PT0S')),
    type: ICS,
    status: 201,
  },
  {
    what: 'a whole calendar with METHOD',
    path: '/alice/imported2/',
    body: cal(
      'METHOD:PUBLISH',
      ...event('w1', START),
      ...event('w2', START, 'RRULE:FREQ=DAILY;COUNT=3'),
      ...event('w2', 'DTSTART:20240111T120000Z', 'RECURRENCE-ID:20240111T100000Z'),
    ),
    type: ICS,
    status: 201,
  },
  {
    what: "Apple's vCard",
    path: '/alice/book/apple.vcf',
    body: loadVcard('apple-3.0'),
    type: VCF,
    status: 201,
  },
  {
    what: 'a vCard 4.0 without N',
    path: '/alice/book/org.vcf',
    body: card('org', 'FN:Acme').replace('VERSION:3.0', 'VERSION:4.0'),
    type: VCF,
    status: 201,
  },
  {
    what: 'a whole address book',
    path: '/alice/book2/',
    body: loadVcard('google-3.0') + card('w3', 'FN:W'),
    type: VCF,
    status: 201,
  },
];

/** A copy of the folder without Radicale's caches, so that Radicale reads every item itself. */
function uncachedCopy(folder: string): string {
  const copy = mkdtempSync(join(work, 'copy-'));
  cpSync(folder, copy, { recursive: true });
  const strip = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (name === '.Radicale.cache' || name === '.Almanac.cache')
        rmSync(p, { recursive: true, force: true });
      else if (statSync(p).isDirectory()) strip(p);
    }
  };
  strip(copy);
  return copy;
}

async function radicaleVerify(folder: string): Promise<{ ok: boolean; output: string }> {
  const r = await run('/usr/bin/python3', [
    '-m',
    'radicale',
    '--config',
    '',
    '--storage-filesystem-folder',
    folder,
    '--verify-storage',
  ]);
  const output = r.stdout + r.stderr;
  return { ok: r.code === 0 && !/Invalid (item|collection)/.test(output), output };
}

function almanacVerify(folder: string): Promise<{ code: number | null; stdout: string }> {
  return run(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      '--config',
      '',
      '--storage-filesystem-folder',
      folder,
      '--verify-storage',
    ],
    { cwd: ROOT },
  );
}

/** Radicale serving the folder answers PROPFIND Depth 1 and GET for each collection (no 500). */
async function radicaleServes(folder: string): Promise<void> {
  const users = join(work, 'users');
  writeFileSync(users, 'alice:alicepw\n');
  const radicale = await startRadicale(folder, users);
  try {
    const dav = new DavClient(radicale.url, { alice: 'alicepw' });
    const home = await dav.request('PROPFIND', '/alice/', { user: 'alice', headers: { Depth: '1' } });
    assert.equal(home.status, 207, home.text);
    for (const name of readdirSync(join(folder, 'collection-root/alice'))) {
      if (name.startsWith('.')) continue;
      const listing = await dav.request('PROPFIND', `/alice/${name}/`, {
        user: 'alice',
        headers: { Depth: '1' },
      });
      assert.equal(listing.status, 207, `PROPFIND /alice/${name}/: ${listing.text}`);
      const exported = await dav.request('GET', `/alice/${name}/`, { user: 'alice' });
      assert.equal(exported.status, 200, `GET /alice/${name}/: ${exported.text}`);
    }
  } finally {
    radicale.stop();
  }
}

describe('Radicale 3.1.8 takes back what Almanac stored', () => {
  let server: RunningAlmanac;
  let dav: DavClient;

  before(async () => {
    server = await startAlmanac({ config: { storage: { type: 'multifilesystem' } } });
    dav = new DavClient(server.url);
    assert.equal((await mkcalendar(dav, '/alice/cal/')).status, 201);
    assert.equal((await mkaddressbook(dav, '/alice/book/')).status, 201);
  });
  after(async () => server.stop());

  for (const p of PUTS) {
    it(`${p.status < 300 ? 'stores' : 'refuses'} ${p.what} (${p.status}); Radicale verifies and serves the folder`, async () => {
      const r = await dav.request('PUT', p.path, {
        user: 'alice',
        body: p.body,
        headers: { 'Content-Type': p.type },
      });
      assert.equal(r.status, p.status, r.text);
      if (p.reason) assert.match(errorMessage(r.text), p.reason);
      const copy = uncachedCopy(server.folder);
      const radicale = await radicaleVerify(copy);
      assert.ok(radicale.ok, radicale.output);
      const problems: string[] = [];
      assert.ok(
        await server.store.verify(
          (x) => problems.push(x),
          verifierFor(createPlugins(pluginSettings(testConfig()))),
        ),
        problems.join('\n'),
      );
      await radicaleServes(copy);
    });
  }
});

describe('a folder written by hand', () => {
  it('both verifiers find every file Radicale cannot load', async () => {
    const folder = copyFixture();
    const work1 = join(folder, 'collection-root/alice/work');
    const broken: Record<string, string> = {
      'collection-root/alice/note.txt': 'hello\n',
      'collection-root/alice/empty.txt': '',
      'collection-root/alice/work/mismatch.ics': cal('BEGIN:VEVENT', 'UID:m', START, 'END:VTODO'),
      'collection-root/alice/work/nostart.ics': cal(...event('n', 'SUMMARY:x')),
      'collection-root/alice/work/empty.ics': '',
      'collection-root/alice/contacts/nofn.vcf': card('nofn', 'N:Doe;;;;'),
    };
    assert.ok(statSync(work1).isDirectory());
    const clean = await almanacVerify(folder);
    assert.equal(clean.code, 0, clean.stdout);
    assert.ok((await radicaleVerify(folder)).ok);
    for (const [path, text] of Object.entries(broken)) writeFileSync(join(folder, path), text);
    mkdirSync(join(folder, 'collection-root/alice/plain'));
    writeFileSync(join(folder, 'collection-root/alice/plain/file.bin'), 'data');

    const ours = await almanacVerify(folder);
    assert.equal(ours.code, 1);
    const theirs = await radicaleVerify(folder);
    assert.equal(theirs.ok, false);
    for (const path of [...Object.keys(broken), 'collection-root/alice/plain/file.bin']) {
      const name = path.split('/').pop() ?? '';
      assert.match(
        ours.stdout,
        new RegExp(name.replace('.', '\\.')),
        `almanac --verify-storage names ${name}`,
      );
      assert.match(
        theirs.output,
        new RegExp(`Invalid item '${name.replace('.', '\\.')}'`),
        `Radicale names ${name}`,
      );
    }
  });
});
