/**
 * Splitting a whole-calendar upload into items. A big upload (a 10,000-event import is seconds of
 * parsing) is split in a worker thread, so other users' requests are served meanwhile, and its items
 * come from there in batches as the storage writes them, so that neither thread holds all of them
 * (with the parsed data, 100,000 events took more than a gigabyte); a small one is split in place.
 */
import { DavError } from '../dav/errors.js';
import { runStreamInWorker, type StreamedTask } from '../dav/worker-task.js';
import type { NewItem, NewItems } from '../storage/types.js';
import { describeCalendarItem, splitCalendarLazily, type LazySplitCalendar } from './item.js';
import { IcalParseError } from './parse.js';
import { checkCalendarUpload } from './validate.js';
import { CALDAV_CONDITIONS } from './preconditions.js';

export interface SplitUpload {
  items: NewItem[];
  props: Record<string, string>;
}

/** A split whose items may come in batches: `release` stops what makes them (call it in any case). */
export interface StreamedUpload {
  items: NewItems;
  props: Record<string, string>;
  release?: () => void;
}

const IN_WORKER_ABOVE = 256 * 1024;
/** Items a batch from the worker holds. */
const BATCH_ITEMS = 1000;

function propsOf(split: Omit<LazySplitCalendar, 'items' | 'count'>): Record<string, string> {
  const props: Record<string, string> = {};
  if (split.name) props['D:displayname'] = split.name;
  if (split.description) props['C:calendar-description'] = split.description;
  if (split.color) props['ICAL:calendar-color'] = split.color;
  return props;
}

/** The text checked and split at once; the items (text and description) made BATCH_ITEMS at a time. */
function splitInBatches(text: string, batchItems: number): StreamedTask<Record<string, string>, NewItem[]> {
  checkCalendarUpload(text);
  const split = splitCalendarLazily(text);
  function* batches(): Generator<NewItem[]> {
    let batch: NewItem[] = [];
    for (const i of split.items) {
      batch.push({ text: i.text, description: describeCalendarItem(i.text) });
      if (batch.length < batchItems) continue;
      yield batch;
      batch = [];
    }
    if (batch.length > 0) yield batch;
  }
  return { head: propsOf(split), batches: batches() };
}

/** The split itself. Throws IcalParseError for unreadable data. */
export function splitUploadNow(text: string): SplitUpload {
  const { head, batches } = splitInBatches(text, Infinity);
  const first = batches.next();
  return { items: first.done ? [] : first.value, props: head };
}

type Precondition = IcalParseError['precondition'];

function invalid(message: string, precondition: Precondition = 'valid-calendar-data'): DavError {
  return new DavError(
    403,
    message,
    precondition === 'valid-calendar-object-resource'
      ? CALDAV_CONDITIONS.validCalendarObjectResource
      : CALDAV_CONDITIONS.validCalendarData,
  );
}

function checked<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof IcalParseError) throw invalid(e.message, e.precondition);
    throw e;
  }
}

/** splitUploadNow with unreadable data as the 403 the client gets. */
export function splitUploadChecked(text: string): SplitUpload {
  return checked(() => splitUploadNow(text));
}

/** What the worker runs: splitInBatches with unreadable data as the 403 the client gets. */
export function splitUploadStreamed(text: string): StreamedTask<Record<string, string>, NewItem[]> {
  const { head, batches } = checked(() => splitInBatches(text, BATCH_ITEMS));
  return {
    head,
    batches: {
      next: () => checked(() => batches.next()),
    },
  };
}

/** Not an async function: the text (a big upload) is not kept while the worker splits it. */
export function splitUpload(text: string): Promise<StreamedUpload> {
  if (text.length <= IN_WORKER_ABOVE) {
    try {
      return Promise.resolve(splitUploadChecked(text));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
  return runStreamInWorker<Record<string, string>, NewItem[]>(import.meta.url, './upload-worker', text).then(
    (run) => ({ items: run.batches, props: run.head, release: () => run.close() }),
  );
}
