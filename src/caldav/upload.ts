/**
 * Splitting a whole-calendar upload into items. A big upload (a 10,000-event import is seconds of
 * parsing) is split in a worker thread, so other users' requests are served meanwhile; a small one in
 * place.
 */
import { DavError } from '../dav/errors.js';
import { runInWorker } from '../dav/worker-task.js';
import type { NewItem } from '../storage/types.js';
import { describeCalendarItem, splitCalendar } from './item.js';
import { IcalParseError } from './parse.js';
import { checkCalendarUpload } from './validate.js';
import { CALDAV_CONDITIONS } from './preconditions.js';

export interface SplitUpload {
  items: NewItem[];
  props: Record<string, string>;
}

const IN_WORKER_ABOVE = 256 * 1024;

/** The split itself, also run inside the worker. Throws IcalParseError for unreadable data. */
export function splitUploadNow(text: string): SplitUpload {
  checkCalendarUpload(text);
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
  return new DavError(
    403,
    message,
    precondition === 'valid-calendar-object-resource'
      ? CALDAV_CONDITIONS.validCalendarObjectResource
      : CALDAV_CONDITIONS.validCalendarData,
  );
}

/** splitUploadNow with unreadable data as the 403 the client gets; also what the worker runs. */
export function splitUploadChecked(text: string): SplitUpload {
  try {
    return splitUploadNow(text);
  } catch (e) {
    if (e instanceof IcalParseError) throw invalid(e.message, e.precondition);
    throw e;
  }
}

export async function splitUpload(text: string): Promise<SplitUpload> {
  if (text.length > IN_WORKER_ABOVE) return runInWorker(import.meta.url, './upload-worker', text);
  return splitUploadChecked(text);
}
