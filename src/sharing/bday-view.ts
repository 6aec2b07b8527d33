/**
 * An address book shared with Conversion=bday, as the view (view.ts) serves it at the share's path: a
 * read-only calendar whose items are the cards' birthday events (bday.ts), `x.vcf` served as `x.ics`.
 * Cards without a usable BDAY are left out (and a request for one is a 404).
 *
 * Conversions are kept in a bounded cache keyed by the card's ETag, the share's settings and the
 * year (age events depend on it), so a listing converts only the cards that changed.
 */
import { createHash } from 'node:crypto';
import type { CollectionInfo, Item, ItemDescription, ItemMeta, Storage } from '../storage/types.js';
import type { BdaySettings } from './bday-template.js';
import { bdayHref, convertCard } from './bday.js';

interface Converted {
  readonly text: string;
  readonly etag: string;
  readonly size: number;
  readonly description: ItemDescription;
}

/** Bounds of the conversion cache: entries, and bytes of text (age events make an item ~100 KB). */
const CACHE_MAX = 20_000;
const CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** card ETag + settings + year → its conversion (null: the card gives no event), least recent first. */
const cache = new Map<string, Converted | null>();
let cacheBytes = 0;

const bytesOf = (v: Converted | null | undefined): number => (v ? v.size : 0);

function cacheGet(key: string): Converted | null | undefined {
  const v = cache.get(key);
  if (v !== undefined) {
    cache.delete(key);
    cache.set(key, v);
  }
  return v;
}

function cacheSet(key: string, v: Converted | null): void {
  cacheBytes -= bytesOf(cache.get(key));
  cache.delete(key);
  if (bytesOf(v) > CACHE_MAX_BYTES) return;
  cache.set(key, v);
  cacheBytes += bytesOf(v);
  while (cache.size > CACHE_MAX || cacheBytes > CACHE_MAX_BYTES) {
    const oldest = cache.keys().next();
    if (oldest.done) break;
    cacheBytes -= bytesOf(cache.get(oldest.value));
    cache.delete(oldest.value);
  }
}

/** Props of the address book as the calendar shows them: calendar tag, VEVENT only, its name kept. */
export function bdayCollectionInfo(info: CollectionInfo): CollectionInfo {
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(info.props)) {
    if (k.startsWith('CR:') || k === 'INF:addressbook-color') continue;
    props[k] = v;
  }
  const description = info.props['CR:addressbook-description'];
  if (description !== undefined && props['C:calendar-description'] === undefined)
    props['C:calendar-description'] = description;
  const color = info.props['INF:addressbook-color'];
  if (color !== undefined && props['ICAL:calendar-color'] === undefined) props['ICAL:calendar-color'] = color;
  props.tag = 'VCALENDAR';
  props['C:supported-calendar-component-set'] = 'VEVENT';
  return { ...info, tag: 'VCALENDAR', props, conversion: 'bday' };
}

export interface BdayCollection {
  listItems(): Promise<ItemMeta[]>;
  getItemMeta(href: string): Promise<ItemMeta | undefined>;
  getItems(hrefs?: readonly string[]): AsyncIterable<Item>;
  /** The calendar's ETag: the address book's with the settings and the year mixed in. */
  getEtag(): Promise<string>;
}

export function bdayCollection(deps: {
  readonly base: Storage;
  /** The address book's storage path. */
  readonly path: string;
  readonly settings: BdaySettings;
  /** The calendar kind's describer (time range of the events, for time-range pre-filtering). */
  readonly describe: (text: string) => ItemDescription;
  readonly now?: () => Date;
}): BdayCollection {
  const { base, path, settings } = deps;
  const now = deps.now ?? ((): Date => new Date());
  const settingsKey = JSON.stringify(settings);
  const keyOf = (etag: string, year: number): string => `${settingsKey}\n${year}\n${etag}`;

  const convert = (card: Item, year: Date): Converted | null => {
    const key = keyOf(card.etag, year.getFullYear());
    const known = cacheGet(key);
    if (known !== undefined) return known;
    let out: Converted | null = null;
    const ev = convertCard(card.text, card.etag, card.lastModifiedMs, settings, year);
    if (ev) {
      let description: ItemDescription;
      try {
        description = { ...deps.describe(ev.text), uid: ev.uid, component: 'VEVENT' };
      } catch {
        description = { uid: ev.uid, component: 'VEVENT', start: 0, end: 0 };
      }
      out = { text: ev.text, etag: ev.etag, size: Buffer.byteLength(ev.text, 'utf8'), description };
    }
    cacheSet(key, out);
    return out;
  };

  const metaOf = (card: ItemMeta, c: Converted): ItemMeta => ({
    ...c.description,
    href: bdayHref(card.href),
    etag: c.etag,
    size: c.size,
    lastModifiedMs: card.lastModifiedMs,
  });

  /** The cards that own an `.ics` name: `x.vcf` before a card named `x`. */
  const owners = (cards: readonly ItemMeta[]): ItemMeta[] => {
    const names = new Set(cards.map((m) => m.href));
    return cards.filter((m) => m.href.endsWith('.vcf') || !names.has(`${m.href}.vcf`));
  };

  /** Converts cards (from the cache, else read once), in the given order. */
  const convertAll = async (cards: readonly ItemMeta[]): Promise<{ card: ItemMeta; c: Converted }[]> => {
    const t = now();
    const year = t.getFullYear();
    const done = new Map<string, Converted | null>();
    const missing: string[] = [];
    for (const m of cards) {
      const v = cacheGet(keyOf(m.etag, year));
      if (v === undefined) missing.push(m.href);
      else done.set(m.href, v);
    }
    if (missing.length > 0)
      for await (const item of base.getItems(path, missing)) done.set(item.href, convert(item, t));
    const out: { card: ItemMeta; c: Converted }[] = [];
    for (const m of cards) {
      const c = done.get(m.href);
      if (c) out.push({ card: m, c });
    }
    return out;
  };

  const cardOf = async (href: string): Promise<ItemMeta | undefined> => {
    if (!href.endsWith('.ics')) return undefined;
    const stem = href.slice(0, -4);
    const vcf = await base.getItemMeta(path, `${stem}.vcf`);
    if (vcf !== undefined) return vcf;
    return stem === '' ? undefined : base.getItemMeta(path, stem);
  };

  const textOf = async (card: ItemMeta): Promise<Converted | null> => {
    const t = now();
    const known = cacheGet(keyOf(card.etag, t.getFullYear()));
    if (known !== undefined) return known;
    for await (const item of base.getItems(path, [card.href])) return convert(item, t);
    return null;
  };

  return {
    listItems: async () =>
      (await convertAll(owners(await base.listItems(path)))).map(({ card, c }) => metaOf(card, c)),
    getItemMeta: async (href) => {
      const card = await cardOf(href);
      if (card === undefined) return undefined;
      const c = await textOf(card);
      return c ? metaOf(card, c) : undefined;
    },
    getItems: async function* (hrefs) {
      let cards: ItemMeta[];
      if (hrefs === undefined) cards = owners(await base.listItems(path));
      else {
        cards = [];
        for (const h of hrefs) {
          const card = await cardOf(h);
          if (card !== undefined) cards.push(card);
        }
      }
      for (const { card, c } of await convertAll(cards)) yield { ...metaOf(card, c), text: c.text };
    },
    getEtag: async () => {
      const hash = createHash('sha256')
        .update(`${await base.getEtag(path)}\n${settingsKey}\n${now().getFullYear()}`)
        .digest('hex');
      return `"${hash}"`;
    },
  };
}
