/**
 * The web interface in a real browser (Debian chromium driven by playwright-core) against a real
 * Almanac server: what a user does, checked both on screen and through the DAV API.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startAlmanac } from '../helpers/almanac.js';
import { nginxDir, startNginx } from './helpers/nginx.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'web');
const missing = !existsSync(CHROMIUM);
// In CI the browser must be there: a missing one fails the run instead of silently skipping.
const skip = missing && process.env.CI !== 'true' ? `${CHROMIUM} missing: apt-get install chromium` : false;

type Almanac = Awaited<ReturnType<typeof startAlmanac>>;

// ---- test data -----------------------------------------------------------------------------------

function icsWithEvents(n: number, name: string): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Almanac tests//EN', `X-WR-CALNAME:${name}`];
  for (let i = 0; i < n; i++) {
    const day = String((i % 28) + 1).padStart(2, '0');
    lines.push(
      'BEGIN:VEVENT',
      `UID:event-${i}@almanac.test`,
      'DTSTAMP:20240101T000000Z',
      `DTSTART:202403${day}T${String(8 + (i % 10)).padStart(2, '0')}0000Z`,
      'DURATION:PT1H',
      `SUMMARY:Event number ${i}`,
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR', '');
  return lines.join('\r\n');
}

function vcfWithContacts(n: number): string {
  const cards: string[] = [];
  for (let i = 0; i < n; i++) {
    cards.push(
      [
        'BEGIN:VCARD',
        'VERSION:3.0',
        `UID:contact-${i}`,
        `FN:Person ${i}`,
        `N:${i};Person;;;`,
        'END:VCARD',
        '',
      ].join('\r\n'),
    );
  }
  return cards.join('');
}

/** UID → SUMMARY of every VEVENT in a calendar text, sorted by UID. */
function eventSummaries(ics: string): [string, string][] {
  const unfolded = ics.replace(/\r?\n[ \t]/g, '');
  const events = unfolded.match(/BEGIN:VEVENT[\s\S]*?END:VEVENT/g) ?? [];
  return events
    .map((e): [string, string] => [
      /^UID:(.*)$/m.exec(e)?.[1]?.trim() ?? '',
      /^SUMMARY:(.*)$/m.exec(e)?.[1]?.trim() ?? '',
    ])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

// ---- DAV checks from outside the browser --------------------------------------------------------

const AUTH = 'Basic ' + Buffer.from('alice:secret').toString('base64');

async function propfind(url: string, props: string, depth = '0'): Promise<{ status: number; body: string }> {
  const res = await fetch(url, {
    method: 'PROPFIND',
    headers: { Authorization: AUTH, Depth: depth, 'Content-Type': 'application/xml' },
    body:
      '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" ' +
      'xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:ICAL="http://apple.com/ns/ical/">' +
      `<D:prop>${props}</D:prop></D:propfind>`,
  });
  return { status: res.status, body: await res.text() };
}

// ---- nginx in front of the server (the reverse-proxy setup) -----------------------------------------------------

interface Proxy {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Debian's nginx in front of the server, as in the reverse-proxy documentation: `location <prefix>/`
 * with `proxy_pass http://server/;` (the prefix stripped), plus the given headers.
 */
async function startProxy(
  target: URL,
  prefix: string,
  headers: Readonly<Record<string, string>>,
): Promise<Proxy> {
  const set = Object.entries(headers)
    .map(([k, v]) => `      proxy_set_header ${k} ${v};`)
    .join('\n');
  const nginx = await startNginx(nginxDir(), {
    locations: `    location ${prefix}/ {
      proxy_pass http://127.0.0.1:${target.port}/;
${set}
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_pass_header Authorization;
      client_max_body_size 50m;
    }`,
  });
  return { url: `${nginx.url}${prefix}`, close: () => nginx.stop() };
}

// ---- browser --------------------------------------------------------------------------------------

async function launch(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1100, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Console errors and uncaught exceptions (a CSP violation shows up here too). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    // Refused logins (401) and refused duplicate uploads (412) are expected network errors.
    const expected = /^Failed to load resource: the server responded with a status of (401|412)\b/;
    if (m.type() === 'error' && !expected.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function login(page: Page, base: string, password = 'secret'): Promise<void> {
  await page.goto(`${base}/.web/`);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

function headerHeight(page: Page): Promise<number> {
  return page.evaluate<number>("document.querySelector('header.topbar').getBoundingClientRect().height");
}

const BUTTON_LOOK = [
  'borderTopLeftRadius',
  'borderTopColor',
  'backgroundColor',
  'color',
  'fontWeight',
  'fontFamily',
  'paddingLeft',
];

/** What makes a button look like one of ours, for an element (or a pseudo-element of it). */
function buttonStyle(
  page: Page,
  selector: string,
  pseudo: string | null = null,
): Promise<Record<string, string>> {
  return page.evaluate<Record<string, string>>(
    `(() => { const s = getComputedStyle(document.querySelector(${JSON.stringify(selector)}), ${JSON.stringify(pseudo)});
      return Object.fromEntries(${JSON.stringify(BUTTON_LOOK)}.map((k) => [k, s[k]])); })()`,
  );
}

const fileButtonStyle = (page: Page): Promise<Record<string, string>> =>
  buttonStyle(page, '#upload-files', '::file-selector-button');

function card(page: Page, name: string) {
  return page.locator('li.collection').filter({ has: page.getByRole('heading', { name, exact: true }) });
}

void describe('web interface in chromium', { skip }, () => {
  let dir: string;
  let server: Almanac;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  const upload50 = icsWithEvents(50, 'Holidays');

  before(async () => {
    if (missing) throw new Error(`${CHROMIUM} is missing (CI=true): apt-get install chromium`);
    dir = mkdtempSync(join(tmpdir(), 'almanac-web-'));
    const htpasswd = join(dir, 'users');
    writeFileSync(htpasswd, 'alice:secret\n');
    server = await startAlmanac({
      config: {
        auth: { type: 'htpasswd', htpasswd_filename: htpasswd, htpasswd_encryption: 'plain', delay: '0' },
      },
    });
    context = await launch(dir);
    page = context.pages()[0] ?? (await context.newPage());
    errors = watchErrors(page);
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let headerBeforeLogin = 0;

  void it('shows an error for a wrong password', async () => {
    await page.goto(`${server.url}/.web/`);
    await page.locator('#login-view').waitFor({ state: 'visible' });
    headerBeforeLogin = await headerHeight(page);
    await login(page, server.url, 'wrong');
    const error = page.locator('#login-error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.textContent(), 'Wrong username or password.');
    assert.equal(await page.locator('#collections-view').isVisible(), false);
    await shot(page, 'login-error');
  });

  void it('logs in and shows the empty list', async () => {
    await login(page, server.url);
    await page.locator('#collections-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#session-user').textContent(), 'alice');
    await page.locator('#empty').waitFor({ state: 'visible' });
    assert.ok(headerBeforeLogin > 0);
    assert.equal(await headerHeight(page), headerBeforeLogin, 'the header keeps its height at login');
    await shot(page, 'empty-list');
  });

  void it('creates a calendar and an address book', async () => {
    await page.getByRole('button', { name: 'New collection' }).click();
    const dialog = page.locator('#edit-dialog');
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByLabel('Name').fill('Work');
    await dialog.getByLabel('Description').fill('Meetings & deadlines');
    await dialog.getByLabel('Tasks').check();
    await dialog.getByLabel('Colour', { exact: true }).fill('#ff0000');
    await shot(page, 'create-dialog');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await card(page, 'Work').waitFor();
    assert.match((await card(page, 'Work').textContent()) ?? '', /Calendar \(events, tasks\)/);
    assert.match((await card(page, 'Work').textContent()) ?? '', /Meetings & deadlines/);

    await page.getByRole('button', { name: 'New collection' }).click();
    await dialog.getByLabel('Address book').check();
    assert.equal(await dialog.getByLabel('Tasks').isVisible(), false, 'components are for calendars only');
    await dialog.getByLabel('Name').fill('Friends');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await card(page, 'Friends').waitFor();
    assert.match((await card(page, 'Friends').textContent()) ?? '', /Address book/);

    // What the server stored.
    const href = await card(page, 'Work').getAttribute('data-href');
    assert.ok(href !== null && /^\/alice\/[0-9a-f-]{36}\/$/.test(href), String(href));
    const r = await propfind(
      server.url + href,
      '<D:resourcetype/><D:displayname/><ICAL:calendar-color/><C:supported-calendar-component-set/>',
    );
    assert.equal(r.status, 207);
    assert.match(r.body, /calendar\s*\/>/);
    assert.match(r.body, />Work</);
    assert.match(r.body, /#ff0000ff/i);
    assert.match(r.body, /VTODO/);
  });

  void it('creates a webcal subscription and checks its URL', async () => {
    await page.getByRole('button', { name: 'New collection' }).click();
    const dialog = page.locator('#edit-dialog');
    await dialog.getByLabel('Webcal subscription').check();
    assert.equal(await dialog.getByLabel('Events').isVisible(), false);
    await dialog.getByLabel('Name').fill('Public holidays');
    await dialog.getByLabel('Subscription URL').fill('ftp://example.com/x');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.locator('#edit-error').filter({ hasText: 'subscription URL' }).waitFor();
    await dialog.getByLabel('Subscription URL').fill('https://example.com/holidays.ics');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const sub = card(page, 'Public holidays');
    await sub.waitFor();
    assert.match((await sub.textContent()) ?? '', /Subscription/);
    assert.match((await sub.textContent()) ?? '', /Source: https:\/\/example\.com\/holidays\.ics/);
    assert.equal(await page.getByRole('button', { name: 'Upload into Public holidays' }).count(), 0);
    const href = (await sub.getAttribute('data-href')) ?? '';
    const r = await propfind(server.url + href, '<D:resourcetype/>');
    assert.match(r.body, /subscribed/);
  });

  void it('copies the address of a collection for a client app', async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const work = card(page, 'Work');
    await page.getByRole('button', { name: 'Copy the address of Work' }).click();
    await page.locator('#status').filter({ hasText: 'Copied the address of “Work”.' }).waitFor();
    const copied = await page.evaluate<string>('navigator.clipboard.readText()');
    assert.equal(copied, server.url + ((await work.getAttribute('data-href')) ?? 'missing'));
  });

  void it('edits the colour of a collection', async () => {
    await page.getByRole('button', { name: 'Edit Work' }).click();
    const dialog = page.locator('#edit-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await dialog.getByLabel('Name').inputValue(), 'Work');
    assert.equal(await dialog.getByLabel('Colour', { exact: true }).inputValue(), '#ff0000');
    await dialog.getByLabel('Colour', { exact: true }).fill('#00aa00');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.locator('#status').filter({ hasText: 'Saved “Work”.' }).waitFor();
    const href = (await card(page, 'Work').getAttribute('data-href')) ?? '';
    const r = await propfind(server.url + href, '<ICAL:calendar-color/><D:displayname/>');
    assert.match(r.body, /#00aa00ff/i);
    assert.match(r.body, />Work</, 'the name is kept');
    const swatch = await page.evaluate<string>(
      `getComputedStyle(document.querySelector('li.collection[data-href="${href}"] .swatch')).backgroundColor`,
    );
    assert.equal(swatch, 'rgb(0, 170, 0)');
  });

  void it('uploads an .ics with 50 events as a new calendar and a .vcf with 10 contacts into the address book', async () => {
    await page.getByRole('button', { name: 'Upload files' }).click();
    const dialog = page.locator('#upload-dialog');
    await dialog.getByLabel('Files (.ics or .vcf)').setInputFiles({
      name: 'holidays.ics',
      mimeType: 'text/calendar',
      buffer: Buffer.from(upload50),
    });
    assert.deepEqual(
      await fileButtonStyle(page),
      await buttonStyle(page, '#upload-close'),
      'the file picker looks like the other buttons',
    );
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.locator('.file-row.ok').waitFor();
    assert.equal(await dialog.locator('.file-status').textContent(), '50 added', 'the count, not "Done"');
    await shot(page, 'upload-new');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await card(page, 'Holidays').filter({ hasText: '50 items' }).waitFor();

    await page.getByRole('button', { name: 'Upload into Friends' }).click();
    await dialog.getByLabel('Files (.ics or .vcf)').setInputFiles({
      name: 'friends.vcf',
      mimeType: 'text/vcard',
      buffer: Buffer.from(vcfWithContacts(10)),
    });
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.locator('.file-row.ok').waitFor();
    assert.equal(await dialog.locator('.file-status').textContent(), '10 added');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await card(page, 'Friends').filter({ hasText: '10 items' }).waitFor();

    // The same events, split client-side into one item per UID, into the existing calendar.
    await page.getByRole('button', { name: 'Upload into Work' }).click();
    await dialog.getByLabel('Files (.ics or .vcf)').setInputFiles({
      name: 'holidays.ics',
      mimeType: 'text/calendar',
      buffer: Buffer.from(upload50),
    });
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.locator('.file-row.ok').waitFor();
    assert.equal(await dialog.locator('.file-status').textContent(), '50 added');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await card(page, 'Work').filter({ hasText: '50 items' }).waitFor();
    await shot(page, 'collections');
    // Cards with and without a description side by side: none has an empty band above its buttons.
    const gaps = await page.evaluate<Record<string, number>>(`Object.fromEntries(
      [...document.querySelectorAll('li.collection')].map((li) => [
        li.querySelector('.name').textContent,
        li.querySelector('.card-actions').getBoundingClientRect().top -
          li.querySelector('.url-row').getBoundingClientRect().bottom,
      ]))`);
    assert.ok(Object.keys(gaps).length >= 4, JSON.stringify(gaps));
    for (const [name, gap] of Object.entries(gaps))
      assert.ok(gap <= 16, `${name}: ${gap}px above its buttons`);
  });

  void it('reports per-file errors: uploading the same contacts again conflicts', async () => {
    await page.getByRole('button', { name: 'Upload into Friends' }).click();
    const dialog = page.locator('#upload-dialog');
    await dialog.getByLabel('Files (.ics or .vcf)').setInputFiles([
      { name: 'again.vcf', mimeType: 'text/vcard', buffer: Buffer.from(vcfWithContacts(2)) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') },
    ]);
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.getByRole('button', { name: 'Close' }).waitFor();
    const rows = dialog.locator('.file-row');
    await rows.nth(1).locator('.file-status').filter({ hasText: 'Failed' }).waitFor();
    assert.match((await rows.nth(0).locator('.file-status').textContent()) ?? '', /^0 added, 2 failed$/);
    assert.match((await rows.nth(0).textContent()) ?? '', /UID contact-0: 412/);
    assert.match((await rows.nth(1).textContent()) ?? '', /neither an iCalendar/);
    await shot(page, 'upload-errors');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await card(page, 'Friends').filter({ hasText: '10 items' }).waitFor();
  });

  void it('downloads a calendar with the uploaded events', async () => {
    for (const name of ['Holidays', 'Work']) {
      const downloading = page.waitForEvent('download');
      await page.getByRole('button', { name: `Download ${name}` }).click();
      const download = await downloading;
      assert.equal(download.suggestedFilename(), `${name}.ics`);
      const text = readFileSync(await download.path(), 'utf8');
      assert.deepEqual(eventSummaries(text), eventSummaries(upload50), name);
    }
  });

  void it('deletes a collection after typing its name', async () => {
    const href = (await card(page, 'Friends').getAttribute('data-href')) ?? '';
    await page.getByRole('button', { name: 'Delete Friends' }).click();
    const dialog = page.locator('#delete-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.match((await dialog.textContent()) ?? '', /“Friends” and its 10 items/);
    const confirm = dialog.getByRole('button', { name: 'Delete' });
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByRole('textbox').fill('Friend');
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByRole('textbox').fill('Friends');
    await shot(page, 'delete-dialog');
    await confirm.click();
    await page.locator('#status').filter({ hasText: 'Deleted “Friends”.' }).waitFor();
    assert.equal(await card(page, 'Friends').count(), 0);
    assert.equal((await propfind(server.url + href, '<D:displayname/>')).status, 404);
  });

  void it('is keyboard usable: dialogs take focus, Escape closes and focus returns', async () => {
    await page.getByRole('button', { name: 'New collection' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#edit-dialog').waitFor({ state: 'visible' });
    const inDialog = await page.evaluate<string | null>(
      "document.activeElement?.closest('dialog')?.id ?? null",
    );
    assert.equal(inDialog, 'edit-dialog');
    await page.keyboard.press('Escape');
    await page.locator('#edit-dialog').waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate<string>('document.activeElement?.id'), 'new-collection');
  });

  void it('fits a 375px wide screen and has a dark theme', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(overflow <= 375, `page is ${overflow}px wide`);
    assert.equal(await headerHeight(page), headerBeforeLogin, 'the header keeps its height on a phone');
    await shot(page, 'collections-375px');
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    assert.notEqual(bg, 'rgb(244, 245, 247)');
    await shot(page, 'collections-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1100, height: 800 });
  });

  void it('logs out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#login-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('li.collection').count(), 0);
    assert.equal(await page.getByLabel('Password').inputValue(), '');
  });

  void it('works behind a reverse proxy under /radicale/', async () => {
    const proxy = await startProxy(new URL(server.url), '/radicale', { 'X-Script-Name': '/radicale' });
    try {
      await page.goto(`${proxy.url}/.web`);
      assert.equal(new URL(page.url()).pathname, '/radicale/.web/', 'redirected below the prefix');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('secret');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await card(page, 'Work').waitFor();
      const url = await card(page, 'Work').locator('input.url').inputValue();
      assert.match(url, new RegExp(`^${proxy.url}/alice/[0-9a-f-]{36}/$`));
      await page.getByRole('button', { name: 'New collection' }).click();
      await page.locator('#edit-dialog').getByLabel('Name').fill('Behind proxy');
      await page.locator('#edit-dialog').getByRole('button', { name: 'Create' }).click();
      await card(page, 'Behind proxy').waitFor();
      const href = (await card(page, 'Behind proxy').getAttribute('data-href')) ?? '';
      assert.match(href, /^\/radicale\/alice\//);
      const direct = await propfind(server.url + href.slice('/radicale'.length), '<D:displayname/>');
      assert.equal(direct.status, 207);
      assert.match(direct.body, />Behind proxy</);
      await shot(page, 'behind-proxy');
    } finally {
      await proxy.close();
    }
  });

  void it('logged no console errors and no CSP violations', () => {
    assert.deepEqual(errors, []);
  });
});

void describe('web interface with proxy authentication', { skip }, () => {
  let dir: string;
  let server: Almanac;
  let proxy: Proxy;
  let context: BrowserContext;

  before(async () => {
    if (missing) throw new Error(`${CHROMIUM} is missing (CI=true): apt-get install chromium`);
    dir = mkdtempSync(join(tmpdir(), 'almanac-web-proxyauth-'));
    server = await startAlmanac({
      config: { auth: { type: 'http_x_remote_user' }, server: { trusted_proxies: '127.0.0.1' } },
    });
    proxy = await startProxy(new URL(server.url), '', { 'X-Remote-User': 'bob' });
    context = await launch(dir);
  });

  after(async () => {
    await context?.close();
    await proxy?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  void it('skips the login form when the proxy has identified the user', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = watchErrors(page);
    await page.goto(`${proxy.url}/.web/`);
    await page.locator('#collections-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#login-view').isVisible(), false);
    assert.equal(await page.locator('#session-user').textContent(), 'bob');
    assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), false);
    await page.getByRole('button', { name: 'New collection' }).click();
    await page.locator('#edit-dialog').getByLabel('Name').fill('Bob calendar');
    await page.locator('#edit-dialog').getByRole('button', { name: 'Create' }).click();
    await card(page, 'Bob calendar').waitFor();
    assert.match((await card(page, 'Bob calendar').getAttribute('data-href')) ?? '', /^\/bob\//);
    await shot(page, 'proxy-auth');
    assert.deepEqual(errors, []);
  });
});

void describe('web interface with prefer_browser_login', { skip }, () => {
  let dir: string;
  let server: Almanac;
  let context: BrowserContext;

  before(async () => {
    if (missing) throw new Error(`${CHROMIUM} is missing (CI=true): apt-get install chromium`);
    dir = mkdtempSync(join(tmpdir(), 'almanac-web-browserlogin-'));
    const htpasswd = join(dir, 'users');
    writeFileSync(htpasswd, 'alice:secret\n');
    server = await startAlmanac({
      config: {
        auth: { type: 'htpasswd', htpasswd_filename: htpasswd, htpasswd_encryption: 'plain', delay: '0' },
        web: { prefer_browser_login: 'True' },
      },
    });
    // The browser's own login prompt, answered as a user would type into it.
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      httpCredentials: { username: 'alice', password: 'secret' },
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  void it('logs in through the browser prompt, without the form', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = watchErrors(page);
    await page.goto(`${server.url}/.web/`);
    await page.locator('#collections-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#login-view').isVisible(), false);
    assert.equal(await page.locator('#session-user').textContent(), 'alice');
    await page.getByRole('button', { name: 'New collection' }).click();
    await page.locator('#edit-dialog').getByLabel('Name').fill('Prompted');
    await page.locator('#edit-dialog').getByRole('button', { name: 'Create' }).click();
    await card(page, 'Prompted').waitFor();
    assert.match((await card(page, 'Prompted').getAttribute('data-href')) ?? '', /^\/alice\//);
    await shot(page, 'browser-login');
    assert.deepEqual(errors, []);
  });
});

// ---- invitations and sharing -------------------------------------------------------------------

function basic(user: string): string {
  return 'Basic ' + Buffer.from(`${user}:secret`).toString('base64');
}

async function dav(
  base: string,
  method: string,
  path: string,
  user: string,
  body?: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: basic(user), ...headers },
    body,
  });
  return { status: res.status, body: await res.text() };
}

function invitation(uid: string, summary: string, start: string): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Almanac tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20261201T090000Z',
    `DTSTART:${start}`,
    'DURATION:PT1H',
    `SUMMARY:${summary}`,
    'ORGANIZER;CN=Alice:mailto:alice@example.org',
    'ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.org',
    'ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** The PARTSTAT of bob's ATTENDEE line in an iCalendar text. */
function bobPartstat(ics: string): string | null {
  const line = ics
    .replace(/\r?\n[ \t]/g, '')
    .split(/\r?\n/)
    .find((l) => l.startsWith('ATTENDEE') && /:mailto:bob@example\.org$/i.test(l));
  return line === undefined ? null : (/;PARTSTAT=([^;:]+)/.exec(line)?.[1] ?? null);
}

async function loginAs(page: Page, base: string, user: string): Promise<void> {
  await page.goto(`${base}/.web/`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill('secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#collections-view').waitFor({ state: 'visible' });
}

function invitationCard(page: Page, summary: string) {
  return page
    .locator('li.invitation')
    .filter({ has: page.getByRole('heading', { name: summary, exact: true }) });
}

void describe('web interface: invitations and sharing', { skip }, () => {
  let dir: string;
  let server: Almanac;
  let context: BrowserContext;
  let alicePage: Page;
  let bobPage: Page;
  let aliceErrors: string[];
  let bobErrors: string[];

  before(async () => {
    if (missing) throw new Error(`${CHROMIUM} is missing (CI=true): apt-get install chromium`);
    dir = mkdtempSync(join(tmpdir(), 'almanac-web-share-'));
    const htpasswd = join(dir, 'users');
    writeFileSync(htpasswd, 'alice:secret\nbob:secret\ndave@example.com:secret\n');
    server = await startAlmanac({
      config: {
        auth: { type: 'htpasswd', htpasswd_filename: htpasswd, htpasswd_encryption: 'plain', delay: '0' },
        scheduling: { enabled: 'True', email_domain: 'example.org', smtp_server: 'none' },
        sharing: {
          type: 'csv',
          collection_by_map: 'True',
          collection_by_token: 'True',
          permit_create_map: 'True',
          permit_create_token: 'True',
        },
      },
    });
    context = await launch(dir);
    alicePage = context.pages()[0] ?? (await context.newPage());
    bobPage = await context.newPage();
    aliceErrors = watchErrors(alicePage);
    bobErrors = watchErrors(bobPage);
    // Both principals exist (bob's must, to be a local attendee); alice has a calendar to invite from.
    for (const user of ['alice', 'bob']) {
      const r = await dav(server.url, 'PROPFIND', `/${user}/`, user, undefined, { Depth: '0' });
      assert.equal(r.status, 207);
    }
    const mk = await dav(
      server.url,
      'MKCALENDAR',
      '/alice/team/',
      'alice',
      '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' +
        '<D:set><D:prop><D:displayname>Team</D:displayname></D:prop></D:set></C:mkcalendar>',
    );
    assert.equal(mk.status, 201);
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const put = async (path: string, body: string): Promise<void> => {
    const r = await dav(server.url, 'PUT', path, 'alice', body, { 'Content-Type': 'text/calendar' });
    assert.ok(r.status === 201 || r.status === 204, `${path}: ${r.status} ${r.body}`);
  };

  void it('lists the invitations in the schedule inbox', async () => {
    await put(
      '/alice/team/budget.ics',
      invitation('budget@example.org', 'Budget review', '20261210T100000Z'),
    );
    await put('/alice/team/lunch.ics', invitation('lunch@example.org', 'Team lunch', '20261211T120000Z'));
    await put('/alice/team/offsite.ics', invitation('offsite@example.org', 'Offsite', '20261212T080000Z'));
    // The organizer deletes one: bob gets a CANCEL after its REQUEST.
    const deleted = await dav(server.url, 'DELETE', '/alice/team/offsite.ics', 'alice');
    assert.ok(deleted.status === 200 || deleted.status === 204, String(deleted.status));

    await loginAs(bobPage, server.url, 'bob');
    await invitationCard(bobPage, 'Budget review').waitFor();
    const budget = (await invitationCard(bobPage, 'Budget review').textContent()) ?? '';
    assert.match(budget, /From Alice/);
    assert.match(budget, /2026/);
    assert.equal(await bobPage.locator('li.invitation').count(), 3, 'the cancelled request is not listed');
    assert.match(
      (await invitationCard(bobPage, 'Offsite').textContent()) ?? '',
      /Cancelled/,
      'the cancellation stands for its request',
    );
    assert.equal(await invitationCard(bobPage, 'Offsite').getByRole('button', { name: 'Accept' }).count(), 0);
    await shot(bobPage, 'invitations');
    await bobPage.setViewportSize({ width: 375, height: 740 });
    const width = await bobPage.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(width <= 375, `page is ${width}px wide`);
    await bobPage.emulateMedia({ colorScheme: 'dark' });
    await shot(bobPage, 'invitations-375px-dark');
    await bobPage.emulateMedia({ colorScheme: 'light' });
    await bobPage.setViewportSize({ width: 1100, height: 800 });
  });

  void it('accepts one invitation and declines another: the organizer sees the answers', async () => {
    await bobPage.getByRole('button', { name: 'Accept Budget review', exact: true }).click();
    await bobPage.locator('#status').filter({ hasText: 'Accepted “Budget review”.' }).waitFor();
    assert.equal(await invitationCard(bobPage, 'Budget review').count(), 0);
    const aliceCopy = await dav(server.url, 'GET', '/alice/team/budget.ics', 'alice');
    assert.equal(bobPartstat(aliceCopy.body), 'ACCEPTED', aliceCopy.body);

    // Keyboard: focus the button and press Enter.
    await bobPage.getByRole('button', { name: 'Decline Team lunch' }).focus();
    await bobPage.keyboard.press('Enter');
    await bobPage.locator('#status').filter({ hasText: 'Declined “Team lunch”.' }).waitFor();
    const lunch = await dav(server.url, 'GET', '/alice/team/lunch.ics', 'alice');
    assert.equal(bobPartstat(lunch.body), 'DECLINED', lunch.body);
  });

  void it('dismisses a cancellation; the inbox is then empty', async () => {
    await bobPage.getByRole('button', { name: 'Dismiss the cancellation of Offsite' }).click();
    await bobPage.locator('#status').filter({ hasText: 'Dismissed “Offsite”.' }).waitFor();
    assert.equal(await bobPage.locator('#invitations').isVisible(), false);
    const inbox = await dav(server.url, 'PROPFIND', '/bob/schedule-inbox/', 'bob', undefined, {
      Depth: '1',
    });
    assert.equal((inbox.body.match(/<(\w+:)?response>/g) ?? []).length, 1, inbox.body);
  });

  void it("shows the organizer the attendee's answers", async () => {
    await loginAs(alicePage, server.url, 'alice');
    const replies = alicePage.locator('li.invitation[data-method="REPLY"]');
    await replies.first().waitFor();
    const texts = await replies.allTextContents();
    assert.ok(
      texts.some((t) => /Budget review/.test(t) && /Bob accepted/.test(t)),
      texts.join(' | '),
    );
    assert.ok(
      texts.some((t) => /Team lunch/.test(t) && /Bob declined/.test(t)),
      texts.join(' | '),
    );
    await alicePage.getByRole('button', { name: 'Dismiss the answer about Budget review' }).click();
    await alicePage.locator('#status').filter({ hasText: 'Dismissed “Budget review”.' }).waitFor();
    await alicePage.getByRole('button', { name: 'Dismiss the answer about Team lunch' }).click();
    await alicePage.locator('#status').filter({ hasText: 'Dismissed “Team lunch”.' }).waitFor();
    assert.equal(await alicePage.locator('#invitations').isVisible(), false);
  });

  let link = '';

  void it('shares a calendar with bob read-only and creates a link in the Share dialog', async () => {
    await put('/alice/team/standup.ics', icsWithEvents(1, 'x').replace('Event number 0', 'Standup'));
    await loginAs(alicePage, server.url, 'alice');
    await alicePage.getByRole('button', { name: 'Share Team' }).click();
    const dialog = alicePage.locator('#share-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await alicePage.evaluate<string>('document.activeElement?.id'), 'share-user');
    assert.match((await dialog.textContent()) ?? '', /Not shared yet/);
    await dialog.getByLabel('User name (or :group)').fill('bob');
    assert.equal(await dialog.getByLabel('Read only').isChecked(), true);
    await dialog.getByRole('button', { name: 'Share', exact: true }).click();
    await dialog.locator('#share-status').filter({ hasText: 'Shared with bob.' }).waitFor();
    const row = dialog.locator('li.share-row').filter({ hasText: 'bob' });
    assert.match((await row.textContent()) ?? '', /bob · read only · not added by bob yet/);

    await dialog.getByRole('button', { name: 'Create link' }).click();
    await dialog.locator('#share-status').filter({ hasText: 'Created a link' }).waitFor();
    link = await dialog.locator('li.share-row input.url').inputValue();
    assert.match(link, new RegExp(`^${server.url}/\\.token/v1/[A-Za-z0-9_-]{44}/$`));
    await shot(alicePage, 'share-dialog');
    await alicePage.setViewportSize({ width: 375, height: 740 });
    const overflow = await alicePage.evaluate<number>(
      "(() => { const d = document.querySelector('#share-dialog'); return d.scrollWidth - d.clientWidth; })()",
    );
    assert.ok(overflow <= 0, `the dialog overflows by ${overflow}px`);
    await shot(alicePage, 'share-dialog-375px');
    await alicePage.setViewportSize({ width: 1100, height: 800 });
    await alicePage.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(
      await alicePage.evaluate<string | null>("document.activeElement?.getAttribute('aria-label') ?? null"),
      'Share Team',
    );
    await card(alicePage, 'Team').filter({ hasText: 'Shared with bob · 1 link' }).waitFor();
  });

  void it('shares with a user whose name is a mail address', async () => {
    await alicePage.getByRole('button', { name: 'Share Team' }).click();
    const dialog = alicePage.locator('#share-dialog');
    await dialog.getByLabel('User name (or :group)').fill('dave@example.com');
    await dialog.getByLabel('Read and write').check();
    await dialog.getByRole('button', { name: 'Share', exact: true }).click();
    await dialog.locator('#share-status').filter({ hasText: 'Shared with dave@example.com.' }).waitFor();
    assert.match(
      (await dialog.locator('li.share-row').filter({ hasText: 'dave' }).textContent()) ?? '',
      /read and write/,
    );
    await dialog.getByRole('button', { name: 'Close' }).click();
    // dave adds it (as the page would) and finds it in his home.
    const api = (hook: string, body: object) =>
      dav(server.url, 'POST', `/.sharing/v1/map/${hook}`, 'dave@example.com', JSON.stringify(body), {
        'Content-Type': 'application/json',
      });
    const list = JSON.parse((await api('list', {})).body) as { Content: { PathOrToken: string }[] };
    const path = list.Content[0]?.PathOrToken ?? '';
    assert.match(path, /^\/dave@example\.com\/[0-9a-f-]{36}\/$/);
    assert.equal((await api('update', { PathOrToken: path, Enabled: true, Hidden: false })).status, 200);
    const home = await dav(server.url, 'PROPFIND', '/dave%40example.com/', 'dave@example.com', undefined, {
      Depth: '1',
    });
    assert.match(home.body, /<(\w+:)?displayname>Team</);
    await api('update', { PathOrToken: path, Enabled: false, Hidden: true });
  });

  void it('the link reads the calendar without a login', async () => {
    const res = await fetch(link);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /BEGIN:VCALENDAR/);
    assert.match(body, /SUMMARY:Standup/);
  });

  void it('bob sees the calendar shared by alice, adds it, and it is read-only', async () => {
    await loginAs(bobPage, server.url, 'bob');
    const pending = bobPage.locator('li.pending-share');
    await pending.waitFor();
    assert.match((await pending.textContent()) ?? '', /shared by alice/);
    await bobPage.getByRole('button', { name: 'Add the collection shared by alice' }).click();
    const team = card(bobPage, 'Team');
    await team.waitFor();
    assert.match((await team.textContent()) ?? '', /Shared by alice · read only/);
    assert.equal(await team.getByRole('button', { name: 'Edit Team' }).count(), 0);
    assert.equal(await team.getByRole('button', { name: 'Upload into Team' }).count(), 0);
    assert.equal(await team.getByRole('button', { name: 'Share Team' }).count(), 0);
    assert.equal(await bobPage.locator('li.pending-share').count(), 0);
    const href = (await team.getAttribute('data-href')) ?? '';
    assert.match(href, /^\/bob\/[0-9a-f-]{36}\/$/);
    const r = await dav(server.url, 'GET', `${href}standup.ics`, 'bob');
    assert.equal(r.status, 200);
    assert.match(r.body, /Standup/);
    await shot(bobPage, 'shared-with-bob');
  });

  void it("an address book shared as birthdays is bob's birthday calendar", async () => {
    const mk = await dav(
      server.url,
      'MKCOL',
      '/alice/contacts/',
      'alice',
      '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>' +
        '<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Contacts</D:displayname>' +
        '</D:prop></D:set></D:mkcol>',
    );
    assert.equal(mk.status, 201);
    const card1 =
      'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:carol\r\nFN:Carol\r\nN:;Carol;;;\r\nBDAY:1990-05-17\r\nEND:VCARD\r\n';
    const p = await dav(server.url, 'PUT', '/alice/contacts/carol.vcf', 'alice', card1, {
      'Content-Type': 'text/vcard',
    });
    assert.equal(p.status, 201);
    await loginAs(alicePage, server.url, 'alice');
    await alicePage.getByRole('button', { name: 'Share Contacts' }).click();
    const dialog = alicePage.locator('#share-dialog');
    await dialog.getByLabel('User name (or :group)').fill('bob');
    await dialog.getByLabel('As a calendar of birthdays').check();
    assert.equal(await dialog.getByLabel('Read and write').isDisabled(), true);
    await dialog.getByRole('button', { name: 'Share', exact: true }).click();
    await dialog.locator('#share-status').filter({ hasText: 'Shared with bob.' }).waitFor();
    assert.match((await dialog.locator('li.share-row').textContent()) ?? '', /birthday calendar/);
    await dialog.getByRole('button', { name: 'Close' }).click();

    await loginAs(bobPage, server.url, 'bob');
    await bobPage.getByRole('button', { name: 'Add the birthday calendar shared by alice' }).click();
    const bdays = bobPage.locator('li.collection').filter({ hasText: 'Birthdays shared by alice' });
    await bdays.waitFor();
    assert.match((await bdays.textContent()) ?? '', /Calendar \(events\)/);
    const href = (await bdays.getAttribute('data-href')) ?? '';
    const r = await dav(server.url, 'GET', `${href}carol.ics`, 'bob');
    assert.equal(r.status, 200);
    assert.match(r.body, /RRULE:FREQ=YEARLY/);
  });

  void it('bob removes the calendar from his list: it is offered again', async () => {
    await card(bobPage, 'Team').waitFor();
    await bobPage.getByRole('button', { name: 'Remove Team from my collections' }).click();
    await bobPage.locator('#status').filter({ hasText: 'Removed “Team” from your collections.' }).waitFor();
    assert.equal(await card(bobPage, 'Team').count(), 0);
    await bobPage.getByRole('button', { name: 'Add the collection shared by alice' }).waitFor();
    const home = await dav(server.url, 'PROPFIND', '/bob/', 'bob', undefined, { Depth: '1' });
    assert.doesNotMatch(home.body, /<(\w+:)?displayname>Team</);
    await bobPage.getByRole('button', { name: 'Add the collection shared by alice' }).click();
    await card(bobPage, 'Team').waitFor();
  });

  void it('alice disables the link, then removes the share with bob: bob no longer lists it', async () => {
    await loginAs(alicePage, server.url, 'alice');
    await alicePage.getByRole('button', { name: 'Share Team' }).click();
    const dialog = alicePage.locator('#share-dialog');
    await dialog.getByRole('button', { name: 'Disable the share with Link' }).click();
    await dialog.locator('#share-status').filter({ hasText: 'Disabled the share with the link.' }).waitFor();
    const disabled = (await fetch(link)).status;
    assert.ok([401, 403, 404].includes(disabled), `a disabled link reads nothing (${disabled})`);
    await dialog.getByRole('button', { name: 'Enable the share with Link' }).click();
    await dialog.locator('#share-status').filter({ hasText: 'Enabled the share with the link.' }).waitFor();
    assert.equal((await fetch(link)).status, 200);

    await dialog.getByRole('button', { name: 'Remove the share with bob' }).click();
    await dialog.locator('#share-status').filter({ hasText: 'Removed the share with bob.' }).waitFor();
    assert.equal(await dialog.locator('li.share-row').filter({ hasText: 'bob' }).count(), 0);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await alicePage.locator('#status').filter({ hasText: 'Sharing of “Team” changed.' }).waitFor();
    assert.doesNotMatch((await card(alicePage, 'Team').textContent()) ?? '', /Shared with bob/);

    await loginAs(bobPage, server.url, 'bob');
    await bobPage.locator('li.collection').filter({ hasText: 'Birthdays shared by alice' }).waitFor();
    assert.equal(await card(bobPage, 'Team').count(), 0);
    assert.equal(await bobPage.locator('li.pending-share').count(), 0);
  });

  void it('logged no console errors and no CSP violations', () => {
    assert.deepEqual({ alice: aliceErrors, bob: bobErrors }, { alice: [], bob: [] });
  });
});
