/**
 * Strings the item index keeps for a long time, made so that they hold no more memory than their own
 * characters: a UID sliced out of an item's text would otherwise keep the whole text alive.
 */

/** A copy of a string that shares no memory with the string it was cut from. */
export function detach(s: string): string {
  return s === '' ? '' : Buffer.from(s, 'utf8').toString('utf8');
}

const interned = new Map<string, string>();

/** One shared string per component name (VEVENT, VTODO, VCARD...) instead of one per item. */
export function intern(s: string): string {
  let v = interned.get(s);
  if (v === undefined) {
    v = detach(s);
    if (interned.size < 64) interned.set(v, v);
  }
  return v;
}
