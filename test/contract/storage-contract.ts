/**
 * The storage contract: what every backend of the `Storage` interface (src/storage/types.ts) does, as
 * the protocol layers and so the clients see it. One test file per backend runs these scenarios with
 * a factory for that backend (test/unit/storage-contract-*.test.ts), which wraps it with checkedStorage
 * (src/storage/checked-storage.ts) as src/storage/create.ts does; a backend is done when they pass.
 * What only one backend does (its on-disk format, its SQL) is tested beside it, not here.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type {
  ChangeContext,
  CollectionTag,
  Item,
  ItemDescription,
  ItemMeta,
  NewItem,
  Props,
  Storage,
  WriteCheck,
} from '../../src/storage/types.js';

/** What the factory must give the backend it builds. */
export interface ContractSettings {
  /** The describer the backend uses for items it reads back (the same one made the descriptions given). */
  readonly describe: (text: string, tag: CollectionTag) => ItemDescription;
  /** `[server] max_resource_size`: items larger than this (bytes) are not served. */
  readonly maxResourceSize: number;
  /** `[storage] max_sync_token_age` in seconds. */
  readonly maxSyncTokenAge: number;
}

export interface ContractStorage {
  /** Opened, empty (only the root collection). */
  readonly storage: Storage;
  /** Closes it and removes what it left (folders, databases). */
  readonly cleanup: () => Promise<void>;
}

export type StorageFactory = (settings: ContractSettings) => Promise<ContractStorage>;

export interface ContractOptions {
  /** Called first in each scenario: false skips it (e.g. PostgreSQL is not installed). */
  readonly available?: (t: TestContext) => boolean;
}

export const MAX_RESOURCE_SIZE = 10_000;

const ctx: ChangeContext = { user: 'alice', path: '/alice/cal/', request: 'PUT' };
const ok: WriteCheck = () => undefined;

class Refused extends Error {}
/** As the DAV layer's PUT, MOVE and COPY: another holder of the UID refuses the write. */
const noUidConflict: WriteCheck = (_e, _c, same) => {
  if (same !== undefined) throw new Refused(`uid held by ${same.href}`);
};

/**
 * The tests' describer: UID and main component from the text, the time span from an `X-SPAN:start,end`
 * line (0,0 when absent); text that does not start with BEGIN: is not an item.
 */
export function contractDescribe(text: string): ItemDescription {
  if (!text.startsWith('BEGIN:')) throw new Error('not an item');
  const uid = /^UID:(.*?)\r?$/m.exec(text)?.[1] ?? '';
  const component = /^BEGIN:(VEVENT|VTODO|VJOURNAL|VCARD)\r?$/m.exec(text)?.[1] ?? '';
  const span = /^X-SPAN:(\d+),(\d+)\r?$/m.exec(text);
  return { uid, component, start: Number(span?.[1] ?? 0), end: Number(span?.[2] ?? 0) };
}

interface EventOptions {
  readonly summary?: string;
  readonly component?: 'VEVENT' | 'VTODO';
  readonly span?: readonly [number, number];
}

const event = (uid: string, o: EventOptions = {}): string => {
  const comp = o.component ?? 'VEVENT';
  const uidLine = uid === '' ? '' : `UID:${uid}\r\n`;
  const span = o.span ? `X-SPAN:${o.span[0]},${o.span[1]}\r\n` : '';
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:${comp}\r\n${uidLine}SUMMARY:${o.summary ?? 'x'}\r\n${span}END:${comp}\r\nEND:VCALENDAR\r\n`;
};
const item = (uid: string, o: EventOptions | string = {}): Omit<NewItem, 'href'> => {
  const text = event(uid, typeof o === 'string' ? { summary: o } : o);
  return { text, description: contractDescribe(text) };
};
const card = (uid: string): Omit<NewItem, 'href'> => {
  const text = `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${uid}\r\nEND:VCARD\r\n`;
  return { text, description: contractDescribe(text) };
};
const sha = (s: string): string => `"${createHash('sha256').update(s, 'utf8').digest('hex')}"`;
const sorted = (xs: readonly string[]): string[] => [...xs].sort();
const hrefs = async (s: Storage, path: string): Promise<string[]> =>
  sorted((await s.listItems(path)).map((m) => m.href));
async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Runs the contract's scenarios against the backend `factory` builds. */
export function storageContract(
  backend: string,
  factory: StorageFactory,
  options: ContractOptions = {},
): void {
  const scenario = (
    name: string,
    fn: (s: Storage) => Promise<void>,
    settings: Partial<ContractSettings> = {},
  ): void => {
    void test(`${backend} storage contract: ${name}`, async (t) => {
      if (options.available && !options.available(t)) return;
      const { storage, cleanup } = await factory({
        describe: contractDescribe,
        maxResourceSize: MAX_RESOURCE_SIZE,
        maxSyncTokenAge: 2592000,
        ...settings,
      });
      try {
        await storage.createCollection('alice', {}, ctx);
        await storage.createCollection('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'Cal é' }, ctx);
        await fn(storage);
      } finally {
        await cleanup();
      }
    });
  };

  // ------------------------------------------------------------------ collections

  scenario('collections: the root, nested collections, props and tags read back', async (s) => {
    const root = await s.getCollection('');
    assert.equal(root?.path, '');
    assert.equal(root.tag, '');
    const cal = await s.getCollection('alice/cal');
    assert.equal(cal?.tag, 'VCALENDAR');
    assert.deepEqual(cal.props, { tag: 'VCALENDAR', 'D:displayname': 'Cal é' });
    assert.ok(cal.lastModified instanceof Date);
    assert.equal((await s.getCollection('alice'))?.tag, '');
    const props: Props = {
      tag: 'VADDRESSBOOK',
      'D:displayname': 'Book',
      '{http://inf-it.com/ns/ab/}addressbook-color': '#ff0000ff',
    };
    const book = await s.createCollection('alice/book', props, ctx);
    assert.deepEqual([book.path, book.tag, book.props], ['alice/book', 'VADDRESSBOOK', props]);
    assert.deepEqual((await s.getCollection('alice/book'))?.props, props);
    // Plain collections nest; a subscription is a collection of its own kind.
    await s.createCollection('alice/folder', {}, ctx);
    await s.createCollection('alice/folder/deep', { tag: 'VCALENDAR' }, ctx);
    await s.createCollection(
      'alice/sub',
      { tag: 'VSUBSCRIBED', 'CS:source': 'https://x.example/c.ics' },
      ctx,
    );
    assert.equal((await s.getCollection('alice/sub'))?.tag, 'VSUBSCRIBED');
    assert.equal((await s.getCollection('alice/folder/deep'))?.tag, 'VCALENDAR');
    // Direct children only.
    assert.deepEqual(sorted((await s.listCollections('alice')).map((c) => c.path)), [
      'alice/book',
      'alice/cal',
      'alice/folder',
      'alice/sub',
    ]);
    assert.deepEqual(
      (await s.listCollections('')).map((c) => c.path),
      ['alice'],
    );
    assert.deepEqual(
      (await s.listCollections('alice/folder')).map((c) => c.path),
      ['alice/folder/deep'],
    );
    assert.deepEqual(await s.listCollections('alice/cal'), []);
    assert.deepEqual(await s.listCollections('nobody'), []);
    assert.equal(await s.getCollection('nobody'), undefined);
    assert.equal(await s.getCollection('alice/none'), undefined);
  });

  scenario(
    'collections: refusals (exists, missing parent, inside a calendar, unsafe names, bad props)',
    async (s) => {
      await assert.rejects(s.createCollection('alice/cal', {}, ctx), { code: 'exists' });
      await assert.rejects(s.createCollection('', {}, ctx), { code: 'exists' });
      await assert.rejects(s.createCollection('bob/x', {}, ctx), { code: 'not-found' });
      await assert.rejects(s.createCollection('alice/cal/sub', {}, ctx), { code: 'conflict' });
      for (const bad of [
        'alice/..',
        'alice/.x',
        'a\\b',
        'x~',
        '../etc',
        'alice//x',
        `alice/${'é'.repeat(128)}`,
      ]) {
        await assert.rejects(s.createCollection(bad, {}, ctx), { code: 'invalid-name' }, bad);
      }
      await assert.rejects(s.getCollection('alice/.x'), { code: 'invalid-name' });
      await assert.rejects(s.getItemMeta('alice/cal', '../../x'), { code: 'invalid-name' });
      await assert.rejects(s.createCollection('alice/bad', { tag: 'VTODO' }, ctx), { code: 'conflict' });
      assert.equal(await s.getCollection('alice/bad'), undefined);
      // A name of 255 UTF-8 bytes is the longest a folder can have.
      await s.createCollection(`alice/${'é'.repeat(127)}x`, {}, ctx);
    },
  );

  scenario(
    'collections: delete removes the subtree with its items; the root deletes every child',
    async (s) => {
      await s.createCollection('alice/folder', {}, ctx);
      await s.createCollection('alice/folder/deep', { tag: 'VCALENDAR' }, ctx);
      await s.putItem('alice/folder/deep', 'a.ics', item('A'), ok, ctx);
      await s.deleteCollection('alice/folder', ctx);
      assert.equal(await s.getCollection('alice/folder'), undefined);
      assert.equal(await s.getCollection('alice/folder/deep'), undefined);
      await assert.rejects(s.listItems('alice/folder/deep'), { code: 'not-found' });
      await assert.rejects(s.deleteCollection('alice/folder', ctx), { code: 'not-found' });
      // Made again, it is empty.
      await s.createCollection('alice/folder', {}, ctx);
      await s.createCollection('alice/folder/deep', { tag: 'VCALENDAR' }, ctx);
      assert.deepEqual(await s.listItems('alice/folder/deep'), []);
      await s.setProps('', { 'D:displayname': 'root' }, ctx);
      await s.deleteCollection('', ctx);
      assert.deepEqual(await s.listCollections(''), []);
      const root = await s.getCollection('');
      assert.deepEqual(root?.props, {});
      await s.createCollection('alice', {}, ctx);
      assert.deepEqual(await s.listCollections('alice'), []);
    },
  );

  // ------------------------------------------------------------------ items

  scenario('items: put creates then replaces; metadata, text and listings read back', async (s) => {
    const a = item('a@x', { summary: 'café', span: [100, 200] });
    const put = await s.putItem('alice/cal', 'a.ics', a, ok, ctx);
    assert.equal(put.created, true);
    assert.equal(put.meta.href, 'a.ics');
    assert.equal(put.meta.etag, sha(a.text));
    assert.equal(put.meta.size, Buffer.byteLength(a.text, 'utf8'));
    assert.notEqual(put.meta.size, a.text.length, 'the size counts bytes');
    assert.deepEqual(
      [put.meta.uid, put.meta.component, put.meta.start, put.meta.end],
      ['a@x', 'VEVENT', 100, 200],
    );
    assert.equal(typeof put.meta.lastModifiedMs, 'number');
    const again = await s.putItem('alice/cal', 'a.ics', item('a@x', 'changed'), ok, ctx);
    assert.equal(again.created, false);
    await s.putItem('alice/cal', 'b.ics', item('b@x'), ok, ctx);
    assert.deepEqual(await hrefs(s, 'alice/cal'), ['a.ics', 'b.ics']);
    const listed = await s.listItems('alice/cal');
    assert.deepEqual(
      (await s.listItems('alice/cal')).map((m) => m.href),
      listed.map((m) => m.href),
      'a stable order',
    );
    const meta = await s.getItemMeta('alice/cal', 'a.ics');
    assert.deepEqual(
      [meta?.etag, meta?.uid, meta?.size],
      [again.meta.etag, 'a@x', Buffer.byteLength(event('a@x', { summary: 'changed' }))],
    );
    assert.equal(await s.getItemMeta('alice/cal', 'zz.ics'), undefined);
    assert.equal(await s.getItemMeta('alice/none', 'a.ics'), undefined);
    // Named items come in the order asked for; missing ones are left out.
    const some: Item[] = await all(s.getItems('alice/cal', ['b.ics', 'missing.ics', 'a.ics']));
    assert.deepEqual(
      some.map((i) => i.href),
      ['b.ics', 'a.ics'],
    );
    assert.equal(some[1]?.text, event('a@x', { summary: 'changed' }));
    assert.equal(some[1]?.etag, again.meta.etag);
    const every = await all(s.getItems('alice/cal'));
    assert.deepEqual(sorted(every.map((i) => i.href)), ['a.ics', 'b.ics']);
    assert.deepEqual(await all(s.getItems('alice/cal', [])), []);
    // A plain collection below the root holds items too (plain WebDAV clients).
    assert.equal((await s.putItem('alice', 'note.ics', item('n@x'), ok, ctx)).created, true);
  });

  scenario(
    'items: the write check sees the existing item and the collection, and its refusal stores nothing',
    async (s) => {
      const seen: unknown[] = [];
      const record: WriteCheck = (existing, collection) => {
        seen.push(existing?.etag ?? '-', collection.path, collection.tag);
      };
      const a = await s.putItem('alice/cal', 'a.ics', item('A'), record, ctx);
      await s.putItem('alice/cal', 'a.ics', item('A', 'v2'), record, ctx);
      // The check may run more than once per write; every run sees the same state.
      const runs = seen.length / 2 / 3;
      assert.ok(Number.isInteger(runs) && runs >= 1);
      assert.deepEqual(seen.slice(0, 3), ['-', 'alice/cal', 'VCALENDAR']);
      assert.deepEqual(seen.slice(3 * runs, 3 * runs + 3), [a.meta.etag, 'alice/cal', 'VCALENDAR']);
      const before = await s.getEtag('alice/cal');
      const refuse: WriteCheck = () => {
        throw new Refused('refused');
      };
      await assert.rejects(s.putItem('alice/cal', 'c.ics', item('C'), refuse, ctx), Refused);
      await assert.rejects(s.putItem('alice/cal', 'a.ics', item('A', 'v3'), refuse, ctx), Refused);
      await assert.rejects(s.deleteItem('alice/cal', 'a.ics', refuse, ctx), Refused);
      assert.equal(await s.getItemMeta('alice/cal', 'c.ics'), undefined);
      assert.equal((await all(s.getItems('alice/cal', ['a.ics'])))[0]?.text, event('A', { summary: 'v2' }));
      assert.equal(await s.getEtag('alice/cal'), before);
    },
  );

  scenario('items: refusals (missing collection, the root, a subscription, unsafe hrefs)', async (s) => {
    await s.createCollection('alice/sub', { tag: 'VSUBSCRIBED' }, ctx);
    const x = item('X');
    await assert.rejects(s.putItem('alice/none', 'x.ics', x, ok, ctx), { code: 'not-found' });
    await assert.rejects(s.putItem('', 'x.ics', x, ok, ctx), { code: 'conflict' });
    await assert.rejects(s.putItem('alice/sub', 'x.ics', x, ok, ctx), { code: 'conflict' });
    for (const bad of ['.hidden', '../x', 'a/b', 'x.ics~', '.', '']) {
      await assert.rejects(s.putItem('alice/cal', bad, x, ok, ctx), { code: 'invalid-name' }, bad);
    }
    await assert.rejects(s.listItems('alice/none'), { code: 'not-found' });
    await assert.rejects(all(s.getItems('alice/none')), { code: 'not-found' });
    await assert.rejects(s.deleteItem('alice/none', 'x.ics', ok, ctx), { code: 'not-found' });
    await assert.rejects(s.getEtag('alice/none'), { code: 'not-found' });
    await assert.rejects(s.getSyncToken('alice/none'), { code: 'not-found' });
    await assert.rejects(s.setProps('alice/none', {}, ctx), { code: 'not-found' });
    assert.deepEqual(await hrefs(s, 'alice/cal'), []);
  });

  scenario('items: delete removes the item and its props; a missing item is not found', async (s) => {
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await s.setItemProps('alice/cal', 'a.ics', { '{urn:x}color': 'red' });
    const seen: (ItemMeta | undefined)[] = [];
    await s.deleteItem('alice/cal', 'a.ics', (e) => seen.push(e), ctx);
    assert.equal(seen[0]?.href, 'a.ics');
    assert.equal(await s.getItemMeta('alice/cal', 'a.ics'), undefined);
    assert.deepEqual(await s.listItems('alice/cal'), []);
    assert.deepEqual(await s.getItemProps('alice/cal', 'a.ics'), {});
    const missing: (ItemMeta | undefined)[] = [];
    await assert.rejects(
      s.deleteItem('alice/cal', 'a.ics', (e) => missing.push(e), ctx),
      { code: 'not-found' },
    );
    assert.deepEqual(missing.slice(0, 1), [undefined]);
    // Written again, it has no props of its old self.
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    assert.deepEqual(await s.getItemProps('alice/cal', 'a.ics'), {});
  });

  scenario(
    'items: time-range candidates (overlapping, unknown and open-ended spans, by component)',
    async (s) => {
      const put = (
        href: string,
        component: 'VEVENT' | 'VTODO',
        start: number,
        end: number,
      ): Promise<unknown> =>
        s.putItem('alice/cal', href, item(href, { component, span: [start, end] }), ok, ctx);
      await put('a.ics', 'VEVENT', 100, 200);
      await put('b.ics', 'VEVENT', 1000, 2000);
      await put('c.ics', 'VEVENT', 0, 0);
      await put('d.ics', 'VEVENT', 3000, Number.MAX_SAFE_INTEGER);
      await put('e.ics', 'VTODO', 100, 200);
      const inRange = async (start: number, end: number, component?: string): Promise<string[]> =>
        sorted((await s.listItemsInRange('alice/cal', { start, end }, component)).map((m) => m.href));
      assert.deepEqual(await inRange(150, 160), ['a.ics', 'c.ics', 'e.ics']);
      assert.deepEqual(await inRange(150, 160, 'VEVENT'), ['a.ics', 'c.ics']);
      assert.deepEqual(await inRange(200, 1000), ['a.ics', 'b.ics', 'c.ics', 'e.ics'], 'inclusive bounds');
      assert.deepEqual(await inRange(5000, 6000), ['c.ics', 'd.ics']);
      assert.deepEqual(await inRange(-Infinity, Infinity, 'VTODO'), ['e.ics']);
      const [meta] = await s.listItemsInRange('alice/cal', { start: 1500, end: 1500 }, 'VEVENT');
      assert.deepEqual([meta?.href, meta?.start, meta?.end], ['b.ics', 1000, 2000]);
    },
  );

  // ------------------------------------------------------------------ ETags

  scenario(
    'ETags: an item ETag is the text hash, the same for the same text; the collection ETag follows changes only',
    async (s) => {
      const e0 = await s.getEtag('alice/cal');
      assert.match(e0, /^".+"$/);
      const a = await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
      const e1 = await s.getEtag('alice/cal');
      assert.notEqual(e1, e0, 'an added item');
      // Reads change nothing.
      await s.listItems('alice/cal');
      await all(s.getItems('alice/cal'));
      await s.sync('alice/cal', '');
      await s.getSyncToken('alice/cal');
      await s.getCollection('alice/cal');
      assert.equal(await s.getEtag('alice/cal'), e1, 'reads change nothing');
      assert.equal((await s.getItemMeta('alice/cal', 'a.ics'))?.etag, a.meta.etag);
      // The same text elsewhere has the same ETag; other text another one.
      await s.createCollection('alice/other', { tag: 'VCALENDAR' }, ctx);
      const same = await s.putItem('alice/other', 'same.ics', item('A'), ok, ctx);
      assert.equal(same.meta.etag, a.meta.etag);
      await s.putItem('alice/cal', 'same.ics', item('S'), ok, ctx);
      const b = await s.putItem('alice/cal', 'a.ics', item('A', 'changed'), ok, ctx);
      assert.notEqual(b.meta.etag, a.meta.etag);
      const e2 = await s.getEtag('alice/cal');
      assert.notEqual(e2, e1, 'a changed item');
      await s.deleteItem('alice/cal', 'same.ics', ok, ctx);
      const e3 = await s.getEtag('alice/cal');
      assert.notEqual(e3, e2, 'a deleted item');
      await s.setProps('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'Renamed' }, ctx);
      const e4 = await s.getEtag('alice/cal');
      assert.notEqual(e4, e3, 'changed props');
      // Another collection's changes leave this one's ETag alone.
      await s.putItem('alice/other', 'x.ics', item('X'), ok, ctx);
      assert.equal(await s.getEtag('alice/cal'), e4);
      assert.notEqual(await s.getEtag('alice/other'), e4);
    },
  );

  // ------------------------------------------------------------------ whole-collection upload

  scenario(
    'upload: replaceCollection names items by the upload rules and replaces the old content',
    async (s) => {
      await s.putItem('alice/cal', 'old.ics', item('OLD'), ok, ctx);
      const items: NewItem[] = [
        item('plain'),
        item('Dup.ICS'),
        item('a/b:c'),
        item('.dot'),
        item(''),
        item('clash'),
        // Its first candidate, clash.ics, is taken by the item before: the hash of the UID names it.
        item('clash.ics'),
        { href: 'given.ics', ...item('G') },
      ];
      const info = await s.replaceCollection(
        'alice/cal',
        { tag: 'VCALENDAR', 'D:displayname': 'Up' },
        items,
        ctx,
      );
      assert.deepEqual([info.tag, info.props['D:displayname']], ['VCALENDAR', 'Up']);
      const names = await hrefs(s, 'alice/cal');
      const hashed = (uid: string): string => `${createHash('sha256').update(uid).digest('hex')}.ics`;
      for (const n of [
        'plain.ics',
        'Dup.ICS',
        hashed('a/b:c'),
        hashed('.dot'),
        'clash.ics',
        hashed('clash.ics'),
        'given.ics',
      ]) {
        assert.ok(names.includes(n), n);
      }
      assert.ok(
        names.some((n) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.ics$/.test(n)),
        names.join(),
      );
      assert.equal(names.length, 8);
      assert.ok(!names.includes('old.ics'));
      assert.deepEqual((await s.getCollection('alice/cal'))?.props, {
        tag: 'VCALENDAR',
        'D:displayname': 'Up',
      });
      const first = await all(s.getItems('alice/cal', ['clash.ics']));
      assert.equal(first[0]?.text, event('clash'));
      // An address book's items are .vcf; a missing collection is created.
      await s.replaceCollection('alice/book', { tag: 'VADDRESSBOOK' }, [card('bob'), card('eve.vcf')], ctx);
      assert.deepEqual(await hrefs(s, 'alice/book'), ['bob.vcf', 'eve.vcf']);
    },
  );

  scenario(
    'upload: items given in batches are named as one array would be; an error from the batches changes nothing',
    async (s) => {
      await s.putItem('alice/cal', 'old.ics', item('OLD'), ok, ctx);
      async function* batches(fail: boolean): AsyncGenerator<readonly NewItem[]> {
        // Each batch comes later, as a worker's do.
        await new Promise((resolve) => setImmediate(resolve));
        yield [item('b1'), item('clash')];
        // Named after the batch before: clash.ics is taken, the hash of the UID names this one.
        yield [item('clash.ics'), { href: 'given.ics', ...item('G') }];
        if (fail) throw new Error('the import broke off');
        yield [item('b3')];
      }
      const before = await s.getEtag('alice/cal');
      await assert.rejects(
        s.replaceCollection('alice/cal', { tag: 'VCALENDAR' }, batches(true), ctx),
        /the import broke off/,
      );
      assert.equal(await s.getEtag('alice/cal'), before);
      assert.deepEqual(await hrefs(s, 'alice/cal'), ['old.ics']);
      await s.replaceCollection('alice/cal', { tag: 'VCALENDAR' }, batches(false), ctx);
      const hashed = `${createHash('sha256').update('clash.ics').digest('hex')}.ics`;
      assert.deepEqual(
        await hrefs(s, 'alice/cal'),
        sorted(['b1.ics', 'b3.ics', 'clash.ics', 'given.ics', hashed]),
      );
      assert.equal((await all(s.getItems('alice/cal', ['b3.ics'])))[0]?.text, event('b3'));
      assert.equal((await all(s.getItems('alice/cal', [hashed])))[0]?.text, event('clash.ics'));
    },
  );

  scenario(
    'upload: refusals leave the collection as it was (unsafe href, missing parent, the root, a calendar parent)',
    async (s) => {
      await s.putItem('alice/cal', 'old.ics', item('OLD'), ok, ctx);
      const before = await s.getEtag('alice/cal');
      await assert.rejects(
        s.replaceCollection(
          'alice/cal',
          { tag: 'VCALENDAR' },
          [item('Z'), { href: '.bad', ...item('Y') }],
          ctx,
        ),
        { code: 'invalid-name' },
      );
      assert.equal(await s.getEtag('alice/cal'), before);
      assert.deepEqual(await hrefs(s, 'alice/cal'), ['old.ics']);
      await assert.rejects(s.replaceCollection('bob/cal', { tag: 'VCALENDAR' }, [], ctx), {
        code: 'not-found',
      });
      await assert.rejects(s.replaceCollection('', {}, [], ctx), { code: 'conflict' });
      await assert.rejects(s.replaceCollection('alice/cal/x', { tag: 'VCALENDAR' }, [], ctx), {
        code: 'conflict',
      });
      assert.deepEqual(sorted((await s.listCollections('alice')).map((c) => c.path)), ['alice/cal']);
    },
  );

  // ------------------------------------------------------------------ UIDs

  scenario(
    'UIDs: findByUid, and the write check sees another holder of the UID (never the item itself)',
    async (s) => {
      await s.putItem('alice/cal', 'one.ics', item('same@x'), ok, ctx);
      assert.equal((await s.findByUid('alice/cal', 'same@x'))?.href, 'one.ics');
      assert.equal(await s.findByUid('alice/cal', 'nope'), undefined);
      assert.equal(await s.findByUid('alice/cal', ''), undefined);
      const holders: (string | undefined)[] = [];
      const record: WriteCheck = (e, c, same) => {
        holders.push(same?.href);
        noUidConflict(e, c, same);
      };
      await assert.rejects(s.putItem('alice/cal', 'two.ics', item('same@x'), record, ctx), Refused);
      assert.equal(holders.at(-1), 'one.ics');
      assert.equal(await s.getItemMeta('alice/cal', 'two.ics'), undefined);
      // Replacing the holder itself is no conflict.
      await s.putItem('alice/cal', 'one.ics', item('same@x', 'v2'), record, ctx);
      assert.equal(holders.at(-1), undefined);
      // The same UID in another collection is no conflict.
      await s.createCollection('alice/cal2', { tag: 'VCALENDAR' }, ctx);
      await s.putItem('alice/cal2', 'one.ics', item('same@x'), record, ctx);
      assert.equal(holders.at(-1), undefined);
      // Items without UID never conflict.
      await s.putItem('alice/cal', 'n1.ics', item(''), record, ctx);
      await s.putItem('alice/cal', 'n2.ics', item('', 'other'), record, ctx);
      assert.equal(holders.at(-1), undefined);
    },
  );

  scenario('UIDs: a UID changed by a PUT or freed by a DELETE can be taken by another item', async (s) => {
    await s.putItem('alice/cal', 'a.ics', item('first@x'), ok, ctx);
    await s.putItem('alice/cal', 'a.ics', item('second@x'), ok, ctx);
    assert.equal(await s.findByUid('alice/cal', 'first@x'), undefined);
    assert.equal((await s.findByUid('alice/cal', 'second@x'))?.href, 'a.ics');
    await s.putItem('alice/cal', 'b.ics', item('first@x'), noUidConflict, ctx);
    await s.deleteItem('alice/cal', 'a.ics', ok, ctx);
    assert.equal(await s.findByUid('alice/cal', 'second@x'), undefined);
    await s.putItem('alice/cal', 'c.ics', item('second@x'), noUidConflict, ctx);
    assert.deepEqual(await hrefs(s, 'alice/cal'), ['b.ics', 'c.ics']);
    assert.equal((await s.findByUid('alice/cal', 'second@x'))?.href, 'c.ics');
  });

  // ------------------------------------------------------------------ item MOVE and COPY

  scenario('item move/copy: between and within collections, keeping text, ETag and props', async (s) => {
    await s.createCollection('alice/cal2', { tag: 'VCALENDAR' }, ctx);
    const a = await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await s.setItemProps('alice/cal', 'a.ics', { '{urn:x}color': 'red' });
    const moved = await s.moveItem(
      { path: 'alice/cal', href: 'a.ics' },
      { path: 'alice/cal2', href: 'b.ics' },
      ok,
      ctx,
    );
    assert.equal(moved.created, true);
    assert.deepEqual([moved.meta.href, moved.meta.etag, moved.meta.uid], ['b.ics', a.meta.etag, 'A']);
    assert.equal(moved.meta.lastModifiedMs, a.meta.lastModifiedMs, 'a move keeps the modification time');
    assert.deepEqual(await s.listItems('alice/cal'), []);
    assert.equal(await s.getItemMeta('alice/cal', 'a.ics'), undefined);
    assert.deepEqual(await s.getItemProps('alice/cal', 'a.ics'), {});
    assert.deepEqual(await s.getItemProps('alice/cal2', 'b.ics'), { '{urn:x}color': 'red' });
    assert.equal((await all(s.getItems('alice/cal2', ['b.ics'])))[0]?.text, event('A'));
    const copied = await s.copyItem(
      { path: 'alice/cal2', href: 'b.ics' },
      { path: 'alice/cal', href: 'c.ics' },
      ok,
      ctx,
    );
    assert.equal(copied.created, true);
    assert.equal(copied.meta.etag, a.meta.etag);
    assert.deepEqual(await hrefs(s, 'alice/cal2'), ['b.ics'], 'a copy leaves the source');
    assert.deepEqual(await s.getItemProps('alice/cal', 'c.ics'), { '{urn:x}color': 'red' });
    // Within one collection (a rename).
    const renamed = await s.moveItem(
      { path: 'alice/cal', href: 'c.ics' },
      { path: 'alice/cal', href: 'd.ics' },
      noUidConflict,
      ctx,
    );
    assert.equal(renamed.created, true);
    assert.deepEqual(await hrefs(s, 'alice/cal'), ['d.ics']);
    assert.equal((await s.findByUid('alice/cal', 'A'))?.href, 'd.ics');
    // Onto itself: nothing changes.
    const token = await s.getSyncToken('alice/cal');
    const self = await s.moveItem(
      { path: 'alice/cal', href: 'd.ics' },
      { path: 'alice/cal', href: 'd.ics' },
      ok,
      ctx,
    );
    assert.equal(self.created, false);
    assert.deepEqual(await hrefs(s, 'alice/cal'), ['d.ics']);
    assert.deepEqual((await s.sync('alice/cal', token)).changed, []);
  });

  scenario(
    'item move/copy: over an existing item, with the check seeing it and the UID holders',
    async (s) => {
      await s.createCollection('alice/cal2', { tag: 'VCALENDAR' }, ctx);
      await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
      const target = await s.putItem('alice/cal2', 'x.ics', item('X'), ok, ctx);
      await s.putItem('alice/cal2', 'holder.ics', item('A'), ok, ctx);
      const seen: unknown[] = [];
      const record: WriteCheck = (existing, c, same) => {
        seen.push([existing?.etag, c.path, same?.href]);
      };
      // Into a collection where another item holds the UID: the check sees it and refuses.
      await assert.rejects(
        s.moveItem(
          { path: 'alice/cal', href: 'a.ics' },
          { path: 'alice/cal2', href: 'new.ics' },
          noUidConflict,
          ctx,
        ),
        { message: 'uid held by holder.ics' },
      );
      assert.deepEqual(await hrefs(s, 'alice/cal'), ['a.ics'], 'a refused move leaves the source');
      assert.deepEqual(await hrefs(s, 'alice/cal2'), ['holder.ics', 'x.ics']);
      // Over the holder itself: no other holder.
      const over = await s.moveItem(
        { path: 'alice/cal', href: 'a.ics' },
        { path: 'alice/cal2', href: 'holder.ics' },
        (e, c, same) => {
          record(e, c, same);
          noUidConflict(e, c, same);
        },
        ctx,
      );
      assert.equal(over.created, false);
      assert.deepEqual(await s.listItems('alice/cal'), []);
      // A copy within one collection: the source holds the UID.
      await assert.rejects(
        s.copyItem(
          { path: 'alice/cal2', href: 'holder.ics' },
          { path: 'alice/cal2', href: 'dup.ics' },
          noUidConflict,
          ctx,
        ),
        Refused,
      );
      // A copy over another item replaces it.
      const copied = await s.copyItem(
        { path: 'alice/cal2', href: 'x.ics' },
        { path: 'alice/cal', href: 'x.ics' },
        record,
        ctx,
      );
      assert.equal(copied.created, true);
      const again = await s.copyItem(
        { path: 'alice/cal2', href: 'holder.ics' },
        { path: 'alice/cal', href: 'x.ics' },
        record,
        ctx,
      );
      assert.equal(again.created, false);
      assert.equal((await s.getItemMeta('alice/cal', 'x.ics'))?.uid, 'A');
      assert.deepEqual(seen[0], [
        (await s.getItemMeta('alice/cal2', 'holder.ics'))?.etag,
        'alice/cal2',
        undefined,
      ]);
      assert.deepEqual(seen.at(-1), [target.meta.etag, 'alice/cal', undefined]);
    },
  );

  scenario(
    'item move/copy: refusals (missing source, missing or wrong target collection, unsafe hrefs)',
    async (s) => {
      await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
      const from = { path: 'alice/cal', href: 'a.ics' };
      for (const op of ['moveItem', 'copyItem'] as const) {
        await assert.rejects(
          s[op]({ path: 'alice/cal', href: 'nope.ics' }, { path: 'alice/cal', href: 'd.ics' }, ok, ctx),
          {
            code: 'not-found',
          },
        );
        await assert.rejects(
          s[op]({ path: 'alice/none', href: 'a.ics' }, { path: 'alice/cal', href: 'd.ics' }, ok, ctx),
          {
            code: 'not-found',
          },
        );
        await assert.rejects(s[op](from, { path: 'alice/none', href: 'a.ics' }, ok, ctx), {
          code: 'not-found',
        });
        await assert.rejects(s[op](from, { path: '', href: 'a.ics' }, ok, ctx), { code: 'conflict' });
        await assert.rejects(s[op](from, { path: 'alice/cal', href: '.a' }, ok, ctx), {
          code: 'invalid-name',
        });
        await assert.rejects(s[op]({ path: 'alice/cal', href: '../a.ics' }, from, ok, ctx), {
          code: 'invalid-name',
        });
        await assert.rejects(
          s[op](
            from,
            { path: 'alice/cal', href: 'b.ics' },
            () => {
              throw new Refused('no');
            },
            ctx,
          ),
          Refused,
        );
      }
      assert.deepEqual(await hrefs(s, 'alice/cal'), ['a.ics']);
    },
  );

  // ------------------------------------------------------------------ collection MOVE and COPY

  scenario(
    'collection move: renames with items, props, item props and children; old tokens go on',
    async (s) => {
      await s.createCollection('alice/folder', { 'D:displayname': 'F' }, ctx);
      await s.createCollection('alice/folder/deep', { tag: 'VCALENDAR' }, ctx);
      await s.putItem('alice/folder/deep', 'a.ics', item('A'), ok, ctx);
      await s.setItemProps('alice/folder/deep', 'a.ics', { 'D:x': '1' });
      await s.putItem('alice/cal', 'c.ics', item('C'), ok, ctx);
      const token = await s.getSyncToken('alice/cal');
      assert.deepEqual(await s.moveCollection('alice/cal', 'alice/renamed', false, ctx), { created: true });
      assert.equal(await s.getCollection('alice/cal'), undefined);
      assert.deepEqual((await s.getCollection('alice/renamed'))?.props, {
        tag: 'VCALENDAR',
        'D:displayname': 'Cal é',
      });
      assert.deepEqual(await hrefs(s, 'alice/renamed'), ['c.ics']);
      assert.equal(await s.getSyncToken('alice/renamed'), token, 'the same state, the same token');
      await s.putItem('alice/renamed', 'n.ics', item('N'), ok, ctx);
      const after = await s.sync('alice/renamed', token);
      assert.deepEqual([after.changed, after.deleted], [['n.ics'], []]);
      await s.moveCollection('alice/folder', 'alice/moved', false, ctx);
      assert.equal((await s.getCollection('alice/moved'))?.props['D:displayname'], 'F');
      assert.deepEqual(await hrefs(s, 'alice/moved/deep'), ['a.ics']);
      assert.deepEqual(await s.getItemProps('alice/moved/deep', 'a.ics'), { 'D:x': '1' });
      assert.equal(await s.getCollection('alice/folder/deep'), undefined);
      // Over an existing collection only with overwrite; the old one is gone entirely.
      await s.createCollection('alice/target', { tag: 'VCALENDAR' }, ctx);
      await s.putItem('alice/target', 'old.ics', item('OLD'), ok, ctx);
      await assert.rejects(s.moveCollection('alice/renamed', 'alice/target', false, ctx), { code: 'exists' });
      assert.deepEqual(await hrefs(s, 'alice/renamed'), ['c.ics', 'n.ics']);
      assert.deepEqual(await s.moveCollection('alice/renamed', 'alice/target', true, ctx), {
        created: false,
      });
      assert.deepEqual(await hrefs(s, 'alice/target'), ['c.ics', 'n.ics']);
      assert.equal(await s.getCollection('alice/renamed'), undefined);
      // Into another principal.
      await s.createCollection('bob', {}, ctx);
      await s.moveCollection('alice/target', 'bob/cal', false, ctx);
      assert.deepEqual(await hrefs(s, 'bob/cal'), ['c.ics', 'n.ics']);
    },
  );

  scenario(
    'collection copy: a separate copy with items, ETags, props, item props and children',
    async (s) => {
      await s.createCollection('alice/folder', { 'D:displayname': 'F' }, ctx);
      await s.createCollection('alice/folder/deep', { tag: 'VCALENDAR' }, ctx);
      await s.putItem('alice/folder/deep', 'a.ics', item('A'), ok, ctx);
      await s.setItemProps('alice/folder/deep', 'a.ics', { 'D:x': '1' });
      assert.deepEqual(await s.copyCollection('alice/folder', 'alice/copy', false, ctx), { created: true });
      assert.equal((await s.getCollection('alice/copy'))?.props['D:displayname'], 'F');
      assert.deepEqual(
        (await s.listItems('alice/copy/deep')).map((m) => [m.href, m.etag]),
        (await s.listItems('alice/folder/deep')).map((m) => [m.href, m.etag]),
      );
      assert.deepEqual(await s.getItemProps('alice/copy/deep', 'a.ics'), { 'D:x': '1' });
      // The copy is separate: changes to one leave the other alone.
      await s.putItem('alice/copy/deep', 'b.ics', item('B'), ok, ctx);
      await s.deleteItem('alice/folder/deep', 'a.ics', ok, ctx);
      assert.deepEqual(await hrefs(s, 'alice/copy/deep'), ['a.ics', 'b.ics']);
      assert.deepEqual(await hrefs(s, 'alice/folder/deep'), []);
      // The copy has a history of its own: a sync from scratch lists what it holds.
      assert.deepEqual(sorted((await s.sync('alice/copy/deep', '')).changed), ['a.ics', 'b.ics']);
      // Over an existing collection only with overwrite.
      await s.putItem('alice/cal', 'c.ics', item('C'), ok, ctx);
      await assert.rejects(s.copyCollection('alice/cal', 'alice/copy/deep/x', false, ctx), {
        code: 'conflict',
      });
      await s.createCollection('alice/cal2', { tag: 'VCALENDAR' }, ctx);
      await s.putItem('alice/cal2', 'old.ics', item('OLD'), ok, ctx);
      await assert.rejects(s.copyCollection('alice/cal', 'alice/cal2', false, ctx), { code: 'exists' });
      assert.deepEqual(await s.copyCollection('alice/cal', 'alice/cal2', true, ctx), { created: false });
      assert.deepEqual(await hrefs(s, 'alice/cal2'), ['c.ics']);
      assert.deepEqual(await hrefs(s, 'alice/cal'), ['c.ics']);
    },
  );

  scenario(
    'collection move/copy: refusals (the root, into itself, over an ancestor, missing source or parent)',
    async (s) => {
      await s.createCollection('alice/folder', {}, ctx);
      for (const op of ['moveCollection', 'copyCollection'] as const) {
        await assert.rejects(s[op]('alice', 'alice/folder/x', false, ctx), { code: 'conflict' });
        await assert.rejects(s[op]('alice/folder', 'alice', true, ctx), { code: 'conflict' });
        await assert.rejects(s[op]('alice/folder', 'alice/folder', true, ctx), { code: 'conflict' });
        await assert.rejects(s[op]('', 'x', false, ctx), { code: 'conflict' });
        await assert.rejects(s[op]('alice/cal', '', true, ctx), { code: 'conflict' });
        await assert.rejects(s[op]('alice/none', 'alice/x', false, ctx), { code: 'not-found' });
        await assert.rejects(s[op]('alice/cal', 'bob/x', false, ctx), { code: 'not-found' });
        await assert.rejects(s[op]('alice/folder', 'alice/cal/x', false, ctx), { code: 'conflict' });
        await assert.rejects(s[op]('alice/cal', 'alice/.x', false, ctx), { code: 'invalid-name' });
      }
      assert.deepEqual(sorted((await s.listCollections('alice')).map((c) => c.path)), [
        'alice/cal',
        'alice/folder',
      ]);
    },
  );

  // ------------------------------------------------------------------ sync

  scenario('sync: initial, after adds, changes and deletes, unchanged, and a change undone', async (s) => {
    const t0 = await s.getSyncToken('alice/cal');
    // A URI (RFC 6578 §3.2) in Radicale's namespace.
    assert.match(t0, /^http:\/\/radicale\.org\/ns\/sync\/[-0-9a-z]+$/);
    assert.deepEqual(await s.sync('alice/cal', ''), { token: t0, changed: [], deleted: [] });
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await s.putItem('alice/cal', 'b.ics', item('B'), ok, ctx);
    const first = await s.sync('alice/cal', '');
    assert.deepEqual(sorted(first.changed), ['a.ics', 'b.ics']);
    assert.deepEqual(first.deleted, []);
    assert.equal(await s.getSyncToken('alice/cal'), first.token);
    assert.notEqual(first.token, t0);
    const fromT0 = await s.sync('alice/cal', t0);
    assert.deepEqual(
      [fromT0.token, sorted(fromT0.changed), fromT0.deleted],
      [first.token, ['a.ics', 'b.ics'], []],
    );
    await s.putItem('alice/cal', 'a.ics', item('A', '2'), ok, ctx);
    await s.deleteItem('alice/cal', 'b.ics', ok, ctx);
    await s.putItem('alice/cal', 'c.ics', item('C'), ok, ctx);
    const second = await s.sync('alice/cal', first.token);
    assert.deepEqual(sorted(second.changed), ['a.ics', 'c.ics']);
    assert.deepEqual(second.deleted, ['b.ics']);
    assert.notEqual(second.token, first.token);
    // An old token gives the same answer again.
    const replay = await s.sync('alice/cal', first.token);
    assert.deepEqual(
      [replay.token, sorted(replay.changed), replay.deleted],
      [second.token, ['a.ics', 'c.ics'], ['b.ics']],
    );
    // From scratch, deleted items are not reported.
    const initial = await s.sync('alice/cal', '');
    assert.deepEqual(
      [initial.token, sorted(initial.changed), initial.deleted],
      [second.token, ['a.ics', 'c.ics'], []],
    );
    // A change and its undo between two syncs is still a change.
    await s.putItem('alice/cal', 'c.ics', item('C', 'tmp'), ok, ctx);
    await s.putItem('alice/cal', 'c.ics', item('C'), ok, ctx);
    const third = await s.sync('alice/cal', second.token);
    assert.deepEqual([third.changed, third.deleted], [['c.ics'], []]);
    // Deleted, then written again: changed, not deleted.
    await s.deleteItem('alice/cal', 'a.ics', ok, ctx);
    await s.putItem('alice/cal', 'a.ics', item('A', '3'), ok, ctx);
    const fourth = await s.sync('alice/cal', third.token);
    assert.deepEqual([fourth.changed, fourth.deleted], [['a.ics'], []]);
    // Added and deleted again between two syncs: reported deleted (the client may never have had it).
    await s.putItem('alice/cal', 'brief.ics', item('BRIEF'), ok, ctx);
    await s.deleteItem('alice/cal', 'brief.ics', ok, ctx);
    const fifth = await s.sync('alice/cal', fourth.token);
    assert.deepEqual([fifth.changed, fifth.deleted], [[], ['brief.ics']]);
    const none = await s.sync('alice/cal', fifth.token);
    assert.deepEqual(none, { token: fifth.token, changed: [], deleted: [] });
    assert.equal(await s.getSyncToken('alice/cal'), fifth.token);
  });

  scenario('sync: moves and copies of items are a delete and a change', async (s) => {
    await s.createCollection('alice/cal2', { tag: 'VCALENDAR' }, ctx);
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    const t1 = await s.getSyncToken('alice/cal');
    const t2 = await s.getSyncToken('alice/cal2');
    await s.moveItem({ path: 'alice/cal', href: 'a.ics' }, { path: 'alice/cal2', href: 'b.ics' }, ok, ctx);
    const src = await s.sync('alice/cal', t1);
    assert.deepEqual([src.changed, src.deleted], [[], ['a.ics']]);
    const dst = await s.sync('alice/cal2', t2);
    assert.deepEqual([dst.changed, dst.deleted], [['b.ics'], []]);
    await s.copyItem({ path: 'alice/cal2', href: 'b.ics' }, { path: 'alice/cal', href: 'c.ics' }, ok, ctx);
    const copy = await s.sync('alice/cal', src.token);
    assert.deepEqual([copy.changed, copy.deleted], [['c.ics'], []]);
    assert.deepEqual((await s.sync('alice/cal2', dst.token)).changed, []);
    await s.moveItem({ path: 'alice/cal', href: 'c.ics' }, { path: 'alice/cal', href: 'd.ics' }, ok, ctx);
    const rename = await s.sync('alice/cal', copy.token);
    assert.deepEqual([rename.changed, rename.deleted], [['d.ics'], ['c.ics']]);
  });

  scenario('sync: paging with a limit continues where it stopped', async (s) => {
    const t0 = await s.getSyncToken('alice/cal');
    for (const n of ['1', '2', '3']) await s.putItem('alice/cal', `${n}.ics`, item(n), ok, ctx);
    await s.deleteItem('alice/cal', '2.ics', ok, ctx);
    const end = await s.getSyncToken('alice/cal');
    const seenChanged: string[] = [];
    const seenDeleted: string[] = [];
    let token = t0;
    for (let page = 0; page < 10; page++) {
      const r = await s.sync('alice/cal', token, 1);
      assert.ok(r.changed.length + r.deleted.length <= 1, 'at most the limit');
      seenChanged.push(...r.changed);
      seenDeleted.push(...r.deleted);
      token = r.token;
      if (r.truncated !== true) break;
    }
    assert.equal(token, end);
    // 2.ics was added and deleted after t0: a page may report it deleted, never changed.
    assert.deepEqual(sorted(seenChanged), ['1.ics', '3.ics']);
    assert.ok(seenDeleted.every((h) => h === '2.ics'));
    const full = await s.sync('alice/cal', t0, 100);
    assert.equal(full.truncated, undefined);
    assert.deepEqual(sorted(full.changed), ['1.ics', '3.ics']);
  });

  scenario('sync: unknown, malformed and other collections\u2019 tokens are refused', async (s) => {
    await s.createCollection('alice/cal2', { tag: 'VCALENDAR' }, ctx);
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await s.putItem('alice/cal2', 'b.ics', item('B'), ok, ctx);
    const token = await s.getSyncToken('alice/cal');
    for (const bad of [
      'http://radicale.org/ns/sync/nothex',
      `http://radicale.org/ns/sync/${'a'.repeat(64)}`,
      `${token}0`,
      'urn:x',
      'garbage',
    ]) {
      await assert.rejects(s.sync('alice/cal', bad), { code: 'invalid-sync-token' }, bad);
    }
    await assert.rejects(s.sync('alice/cal2', token), { code: 'invalid-sync-token' });
    await assert.rejects(s.sync('alice/none', token), { code: 'not-found' });
  });

  scenario('sync: a replaced collection starts a new history; a deleted and recreated one too', async (s) => {
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    const old = await s.getSyncToken('alice/cal');
    await s.replaceCollection('alice/cal', { tag: 'VCALENDAR' }, [item('B')], ctx);
    await assert.rejects(s.sync('alice/cal', old), { code: 'invalid-sync-token' });
    const fresh = await s.sync('alice/cal', '');
    assert.deepEqual([fresh.changed, fresh.deleted], [['B.ics'], []]);
    await s.deleteCollection('alice/cal', ctx);
    await s.createCollection('alice/cal', { tag: 'VCALENDAR' }, ctx);
    await assert.rejects(s.sync('alice/cal', fresh.token), { code: 'invalid-sync-token' });
  });

  scenario(
    'sync: deletions older than max_sync_token_age are forgotten, and tokens from before them refused',
    async (s) => {
      await s.putItem('alice/cal', 'keep.ics', item('KEEP'), ok, ctx);
      const old = await s.sync('alice/cal', '');
      await s.putItem('alice/cal', 'gone.ics', item('GONE'), ok, ctx);
      await s.deleteItem('alice/cal', 'gone.ics', ok, ctx);
      await new Promise((r) => setTimeout(r, 1100));
      await s.putItem('alice/cal', 'b.ics', item('B'), ok, ctx);
      await s.deleteItem('alice/cal', 'b.ics', ok, ctx);
      const now = await s.getSyncToken('alice/cal');
      await assert.rejects(s.sync('alice/cal', old.token), { code: 'invalid-sync-token' });
      assert.deepEqual(await s.sync('alice/cal', now), { token: now, changed: [], deleted: [] });
      assert.deepEqual((await s.sync('alice/cal', '')).changed, ['keep.ics']);
    },
    { maxSyncTokenAge: 1 },
  );

  // ------------------------------------------------------------------ the size limit

  scenario(
    'max_resource_size: an item over the limit is not served (as Radicale skips it); one at the limit is',
    async (s) => {
      const pad = (uid: string, bytes: number): Omit<NewItem, 'href'> => {
        const base = event(uid, { summary: '' }).length;
        return item(uid, 'x'.repeat(bytes - base));
      };
      const atLimit = pad('AT', MAX_RESOURCE_SIZE);
      assert.equal(Buffer.byteLength(atLimit.text), MAX_RESOURCE_SIZE);
      await s.putItem('alice/cal', 'at.ics', atLimit, ok, ctx);
      await s.putItem('alice/cal', 'small.ics', item('SMALL'), ok, ctx);
      const token = await s.getSyncToken('alice/cal');
      const big = pad('BIG', MAX_RESOURCE_SIZE + 1);
      await s.putItem('alice/cal', 'big.ics', big, ok, ctx);
      // An item that grows over the limit disappears too.
      await s.putItem('alice/cal', 'small.ics', pad('SMALL', MAX_RESOURCE_SIZE + 100), ok, ctx);
      assert.deepEqual(await hrefs(s, 'alice/cal'), ['at.ics']);
      assert.equal(await s.getItemMeta('alice/cal', 'big.ics'), undefined);
      assert.equal(await s.getItemMeta('alice/cal', 'small.ics'), undefined);
      assert.equal((await s.getItemMeta('alice/cal', 'at.ics'))?.size, MAX_RESOURCE_SIZE);
      assert.deepEqual(
        (await all(s.getItems('alice/cal', ['big.ics', 'at.ics', 'small.ics']))).map((i) => i.href),
        ['at.ics'],
      );
      assert.deepEqual(
        (await all(s.getItems('alice/cal'))).map((i) => i.href),
        ['at.ics'],
      );
      assert.equal(await s.findByUid('alice/cal', 'BIG'), undefined);
      assert.deepEqual(
        (await s.listItemsInRange('alice/cal', { start: 0, end: 10 })).map((m) => m.href),
        ['at.ics'],
      );
      // For a sync too it is gone: not listed from scratch, deleted for a client that had it.
      assert.deepEqual((await s.sync('alice/cal', '')).changed, ['at.ics']);
      const since = await s.sync('alice/cal', token);
      assert.deepEqual(since.changed, []);
      assert.ok(since.deleted.includes('small.ics'), since.deleted.join());
      // Back under the limit, it is served again.
      await s.putItem('alice/cal', 'small.ics', item('SMALL', 'again'), ok, ctx);
      assert.deepEqual(await hrefs(s, 'alice/cal'), ['at.ics', 'small.ics']);
      assert.ok((await s.sync('alice/cal', token)).changed.includes('small.ics'));
    },
  );

  // ------------------------------------------------------------------ props

  scenario('props: setProps replaces them; an update function merges into the stored props', async (s) => {
    const set = await s.setProps(
      'alice/cal',
      { tag: 'VCALENDAR', 'D:displayname': 'New', 'C:calendar-description': 'd' },
      ctx,
    );
    assert.deepEqual(set.props, { tag: 'VCALENDAR', 'D:displayname': 'New', 'C:calendar-description': 'd' });
    await s.setProps('alice/cal', { tag: 'VCALENDAR', 'D:displayname': 'Only' }, ctx);
    assert.deepEqual((await s.getCollection('alice/cal'))?.props, {
      tag: 'VCALENDAR',
      'D:displayname': 'Only',
    });
    // Read-modify-write: the function gets what is stored now.
    const seen: Props[] = [];
    const merged = await s.setProps(
      'alice/cal',
      (current) => {
        seen.push(current);
        return { ...current, 'ICAL:calendar-color': '#ff0000ff' };
      },
      ctx,
    );
    assert.deepEqual(seen.at(-1), { tag: 'VCALENDAR', 'D:displayname': 'Only' });
    assert.deepEqual(merged.props, {
      tag: 'VCALENDAR',
      'D:displayname': 'Only',
      'ICAL:calendar-color': '#ff0000ff',
    });
    // Two updates one after the other both land.
    await Promise.all([
      s.setProps('alice/cal', (c) => ({ ...c, 'D:one': '1' }), ctx),
      s.setProps('alice/cal', (c) => ({ ...c, 'D:two': '2' }), ctx),
    ]);
    const both = (await s.getCollection('alice/cal'))?.props;
    assert.deepEqual([both?.['D:one'], both?.['D:two']], ['1', '2']);
    // Nothing to store, or a refusal: nothing changes.
    const etag = await s.getEtag('alice/cal');
    const unchanged = await s.setProps('alice/cal', () => undefined, ctx);
    assert.deepEqual(unchanged.props, both);
    await assert.rejects(
      s.setProps(
        'alice/cal',
        () => {
          throw new Refused('no');
        },
        ctx,
      ),
      Refused,
    );
    assert.equal(await s.getEtag('alice/cal'), etag);
    assert.deepEqual((await s.getCollection('alice/cal'))?.props, both);
    // The root has props too.
    await s.setProps('', { 'D:displayname': 'Root' }, ctx);
    assert.equal((await s.getCollection(''))?.props['D:displayname'], 'Root');
  });

  scenario(
    'props: a collection that contains collections cannot become a calendar or address book',
    async (s) => {
      await s.createCollection('alice/folder', { 'D:displayname': 'Folder' }, ctx);
      await s.createCollection('alice/folder/inner', {}, ctx);
      for (const tag of ['VCALENDAR', 'VADDRESSBOOK'])
        await assert.rejects(s.setProps('alice/folder', { tag }, ctx), {
          code: 'conflict',
          message: `alice/folder contains collections and cannot become a ${tag}`,
        });
      await assert.rejects(
        s.setProps('alice/folder', (c) => ({ ...c, tag: 'VCALENDAR' }), ctx),
        { code: 'conflict' },
      );
      assert.deepEqual((await s.getCollection('alice/folder'))?.props, { 'D:displayname': 'Folder' });
      // Props without a tag are taken; once the child is gone, the tag is too.
      await s.setProps('alice/folder', { 'D:displayname': 'Renamed' }, ctx);
      await s.deleteCollection('alice/folder/inner', ctx);
      const info = await s.setProps('alice/folder', { tag: 'VADDRESSBOOK', 'D:displayname': 'Book' }, ctx);
      assert.equal(info.tag, 'VADDRESSBOOK');
    },
  );

  scenario(
    'props: refusals (a tag for a collection with children, bad tags, missing collections)',
    async (s) => {
      await assert.rejects(s.setProps('alice', { tag: 'VCALENDAR' }, ctx), { code: 'conflict' });
      await assert.rejects(
        s.setProps('alice', (c) => ({ ...c, tag: 'VADDRESSBOOK' }), ctx),
        { code: 'conflict' },
      );
      assert.equal((await s.getCollection('alice'))?.tag, '');
      await assert.rejects(s.setProps('alice/cal', { tag: 'VTODO' }, ctx), { code: 'conflict' });
      await assert.rejects(
        s.setProps('alice/cal', () => ({ tag: 'nope' }), ctx),
        { code: 'conflict' },
      );
      assert.equal((await s.getCollection('alice/cal'))?.tag, 'VCALENDAR');
      await assert.rejects(s.setProps('alice/none', {}, ctx), { code: 'not-found' });
      // A collection without children may change its kind.
      const book = await s.setProps('alice/cal', { tag: 'VADDRESSBOOK' }, ctx);
      assert.equal(book.tag, 'VADDRESSBOOK');
      await s.createCollection('alice/plain', {}, ctx);
      assert.equal((await s.setProps('alice/plain', { tag: 'VCALENDAR' }, ctx)).tag, 'VCALENDAR');
    },
  );

  scenario(
    'item props: empty at first, kept across PUT, replaced by setItemProps; missing items refused',
    async (s) => {
      await s.putItem('alice/cal', 'p.ics', item('P'), ok, ctx);
      assert.deepEqual(await s.getItemProps('alice/cal', 'p.ics'), {});
      await s.setItemProps('alice/cal', 'p.ics', { '{urn:x}color': 'red', 'D:y': '2' });
      await s.putItem('alice/cal', 'p.ics', item('P', 'v2'), ok, ctx);
      assert.deepEqual(await s.getItemProps('alice/cal', 'p.ics'), { '{urn:x}color': 'red', 'D:y': '2' });
      await s.setItemProps('alice/cal', 'p.ics', { 'D:y': '3' });
      assert.deepEqual(await s.getItemProps('alice/cal', 'p.ics'), { 'D:y': '3' });
      assert.deepEqual(await s.getItemProps('alice/cal', 'none.ics'), {});
      await assert.rejects(s.setItemProps('alice/cal', 'none.ics', {}), { code: 'not-found' });
      await assert.rejects(s.setItemProps('alice/none', 'p.ics', {}), { code: 'not-found' });
      await assert.rejects(s.setItemProps('alice/cal', '.p', {}), { code: 'invalid-name' });
    },
  );

  // ------------------------------------------------------------------ verify

  scenario('verify: a storage written through the interface has no problems', async (s) => {
    await s.putItem('alice/cal', 'a.ics', item('A'), ok, ctx);
    await s.replaceCollection('alice/book', { tag: 'VADDRESSBOOK' }, [card('bob')], ctx);
    const problems: string[] = [];
    assert.equal(await s.verify((p) => problems.push(p)), true, problems.join('\n'));
    assert.deepEqual(problems, []);
  });

  // Not in the contract, on purpose: a second item with a UID another item of the collection holds,
  // written with a check that lets it pass. The filesystem stores it (as Radicale does for files
  // written by hand); PostgreSQL refuses it ('conflict', its unique index). Every caller (PUT, MOVE,
  // COPY, scheduling) refuses the write itself when the check sees another holder, so no client sees
  // the difference.
}
