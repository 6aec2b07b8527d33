/**
 * Splitting a whole-calendar upload into items. A big upload (a 10,000-event import is seconds of
 * parsing) is split in a worker thread, so other users' requests are served meanwhile; a small one in
 * place.
 */
import { Worker } from 'node:worker_threads';
import { DavError } from '../dav/errors.js';
import { NS } from '../dav/xml.js';
import type { NewItem } from '../storage/types.js';
import { describeCalendarItem, splitCalendar } from './item.js';
import { IcalParseError } from './parse.js';
import { checkCalendarText } from './validate.js';

export interface SplitUpload {
  items: NewItem[];
  props: Record<string, string>;
}

const IN_WORKER_ABOVE = 256 * 1024;

/** The split itself, also run inside the worker. Throws IcalParseError for unreadable data. */
export function splitUploadNow(text: string): SplitUpload {
  checkCalendarText(text, { upload: true });
  const split = splitCalendar(text);
  const items: NewItem[] = split.items.map((i) => ({
    text: i.text,
    description: describeCalendarItem(i.text),
  }));
  const props: Record<string, string> = {};
  if (split.name) props['D:displayname'] = split.name;
  if (split.description) props['C:calendar-description'] = split.description;
  if (split.color) props['ICAL:calendar-color'] = split.color;
  return { items, props };
}

type Precondition = IcalParseError['precondition'];

function invalid(message: string, precondition: Precondition = 'valid-calendar-data'): DavError {
  return new DavError(403, message, `{${NS.C}}${precondition}`);
}

function startWorker(text: string): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./upload-worker.js', self), { workerData: text });
  // Under tsx (development, tests) the worker registers the same TypeScript loader first.
  const target = JSON.stringify(new URL('./upload-worker.ts', self).href);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${target}); });`;
  return new Worker(boot, { eval: true, workerData: text });
}

function inWorker(text: string): Promise<SplitUpload> {
  const worker = startWorker(text);
  return new Promise((resolve, reject) => {
    worker.once(
      'message',
      (
        m:
          | { ok: true; value: SplitUpload }
          | { ok: false; parse: boolean; message: string; precondition?: Precondition },
      ) => {
        void worker.terminate();
        if (m.ok) resolve(m.value);
        else reject(m.parse ? invalid(m.message, m.precondition) : new Error(m.message));
      },
    );
    worker.once('error', (e) => reject(e));
  });
}

export async function splitUpload(text: string): Promise<SplitUpload> {
  if (text.length > IN_WORKER_ABOVE) return inWorker(text);
  try {
    return splitUploadNow(text);
  } catch (e) {
    if (e instanceof IcalParseError) throw invalid(e.message, e.precondition);
    throw e;
  }
}
