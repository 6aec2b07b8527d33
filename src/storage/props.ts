/** Which collection props may be stored, whatever the backend: string values, and one of Radicale's tags. */
import { StorageError, type CollectionTag, type Props } from './types.js';

const TAGS: readonly string[] = ['', 'VCALENDAR', 'VADDRESSBOOK', 'VSUBSCRIBED'];

export function isTag(v: string): v is CollectionTag {
  return TAGS.includes(v);
}

/** Refuses props that cannot be stored. */
export function checkProps(props: Props): void {
  for (const [k, v] of Object.entries(props)) {
    if (typeof v !== 'string') throw new StorageError('conflict', `property ${k} is not a string`);
  }
  const tag = props.tag;
  if (tag !== undefined && !isTag(tag)) throw new StorageError('conflict', `bad collection tag ${tag}`);
}
