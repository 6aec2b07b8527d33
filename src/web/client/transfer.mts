/** Uploading .ics/.vcf files and downloading a collection as one file. */
import type { DavClient } from './dav.mjs';
import { NS, clark, displaynameBody, safeFileName, type Collection } from './requests.js';
import {
  calendarProperty,
  detectKind,
  itemName,
  randomUuid,
  splitCalendar,
  splitVcards,
  type FileKind,
} from './ical-split.js';

export type Progress = (text: string, done: number, total: number) => void;

const CONTENT_TYPE: Record<FileKind, string> = {
  calendar: 'text/calendar; charset=utf-8',
  addressbook: 'text/vcard; charset=utf-8',
};

function readKind(text: string, fileName: string): FileKind {
  const kind = detectKind(text);
  if (kind === null) throw new Error(`${fileName} is neither an iCalendar (.ics) nor a vCard (.vcf) file`);
  return kind;
}

const baseName = (fileName: string): string =>
  fileName.replace(/\.(ics|ical|ifb|vcf|vcard)$/i, '') || fileName;

export interface NewCollection {
  readonly href: string;
  /** Items the server made of the file (it splits it by UID), or null when it does not say. */
  readonly count: number | null;
}

/**
 * The whole file becomes a new collection (the server splits it into items, as Radicale does);
 * returns the new collection's href and how many items it holds.
 */
export async function uploadAsNewCollection(
  dav: DavClient,
  principal: string,
  file: File,
  progress: Progress,
): Promise<NewCollection> {
  const text = await file.text();
  const kind = readKind(text, file.name);
  progress('Uploading…', 0, 1);
  const href = `${principal}${randomUuid()}/`;
  await dav.request('PUT', href, {
    headers: { 'Content-Type': CONTENT_TYPE[kind], 'If-None-Match': '*' },
    body: text,
  });
  // Without X-WR-CALNAME the collection would be shown by its UUID; the file name is friendlier.
  if (kind === 'addressbook' || calendarProperty(text, 'X-WR-CALNAME') === null) {
    await dav.request('PROPPATCH', href, {
      headers: { 'Content-Type': 'application/xml; charset=utf-8' },
      body: displaynameBody(baseName(file.name)),
    });
  }
  const count = await itemCount(dav, href);
  progress(count === null ? 'Done' : `${count} added`, 1, 1);
  return { href, count };
}

/** The server's item count of a collection (Radicale's getcontentcount), or null. */
async function itemCount(dav: DavClient, href: string): Promise<number | null> {
  try {
    const [r] = await dav.propfind(href, '0', ['<RADICALE:getcontentcount/>']);
    const text = r?.props.get(clark(NS.RADICALE, 'getcontentcount'))?.textContent?.trim() ?? '';
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

export interface UploadResult {
  readonly added: number;
  readonly errors: readonly string[];
}

/** Adds every object of the file to an existing collection, one new item per UID (never overwrites). */
export async function uploadIntoCollection(
  dav: DavClient,
  target: Collection,
  file: File,
  progress: Progress,
): Promise<UploadResult> {
  const text = await file.text();
  const kind = readKind(text, file.name);
  const wanted: FileKind = target.kind === 'addressbook' ? 'addressbook' : 'calendar';
  if (kind !== wanted) {
    throw new Error(
      `${file.name} holds ${kind === 'calendar' ? 'calendar data' : 'contacts'}; “${target.name}” does not`,
    );
  }
  const items = kind === 'calendar' ? splitCalendar(text) : splitVcards(text);
  if (items.length === 0)
    throw new Error(`${file.name} contains no ${kind === 'calendar' ? 'events' : 'contacts'}`);
  let done = 0;
  let added = 0;
  const errors: string[] = [];
  progress(`0 of ${items.length}`, 0, items.length);
  const queue = [...items];
  // A few requests in flight: faster than one at a time, gentle on a small server.
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        await dav.request('PUT', target.href + itemName(item.uid, kind), {
          headers: { 'Content-Type': CONTENT_TYPE[kind], 'If-None-Match': '*' },
          body: item.text,
        });
        added++;
      } catch (e) {
        errors.push(`UID ${item.uid}: ${e instanceof Error ? e.message : String(e)}`);
      }
      done++;
      progress(`${done} of ${items.length}`, done, items.length);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return { added, errors };
}

/** Fetches the whole collection with the credentials and hands it to the browser as a file download. */
export async function downloadCollection(dav: DavClient, c: Collection): Promise<void> {
  const res = await dav.request('GET', c.href);
  const blob = await res.blob();
  const ext = c.kind === 'addressbook' ? '.vcf' : '.ics';
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = safeFileName(c.name) + ext;
  document.body.append(a);
  a.click();
  a.remove();
  // Give the browser time to start the download before the blob goes away.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
