/**
 * `--verify-storage`: walks every collection and reports unparsable items (with the describer the
 * caller gives: --verify-storage's also refuses what Radicale could not load), duplicate UIDs, bad
 * `.Radicale.props`, files in plain collections and collections inside calendars/address books.
 * Reads only; changes nothing.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CollectionTag, ItemDescriber } from '../types.js';
import { isErrno } from './fsutil.js';
import { listNames } from './dir-names.js';
import { UTF8_ENCODING } from './stock-encoding.js';
import { isSafeName } from '../names.js';
import { isTag } from '../props.js';
import { parseProps } from './props-json.js';

type Report = (problem: string) => void;
type Decode = (bytes: Uint8Array) => string;

async function readPropsFor(
  dir: string,
  label: string,
  report: Report,
): Promise<{ tag: CollectionTag; ok: boolean }> {
  let text: string;
  try {
    text = await readFile(join(dir, '.Radicale.props'), 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return { tag: '', ok: true };
    report(`${label}: cannot read .Radicale.props: ${String(e)}`);
    return { tag: '', ok: false };
  }
  const { props, problems } = parseProps(text);
  problems.forEach((p) => report(`${label}: .Radicale.props: ${p}`));
  const tag = props.tag !== undefined && isTag(props.tag) ? props.tag : '';
  return { tag, ok: problems.length === 0 };
}

async function verifyItem(
  dir: string,
  name: string,
  label: string,
  tag: CollectionTag,
  describe: ItemDescriber,
  uids: Map<string, string>,
  report: Report,
  decode: Decode,
): Promise<boolean> {
  try {
    const { uid } = describe(decode(await readFile(join(dir, name))), tag);
    const other = uids.get(uid);
    if (uid !== '' && other !== undefined) {
      report(`${label}/${name}: UID ${JSON.stringify(uid)} also used by ${other}`);
      return false;
    }
    if (uid !== '') uids.set(uid, name);
    return true;
  } catch (e) {
    report(`${label}/${name}: unparsable item: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

async function verifyDir(
  dir: string,
  path: string,
  describe: ItemDescriber,
  report: Report,
  decode: Decode,
): Promise<boolean> {
  const label = `/${path}`;
  const { tag, ok: propsOk } = await readPropsFor(dir, label, report);
  let ok = propsOk;
  const uids = new Map<string, string>();
  for (const name of await listNames(dir)) {
    if (!isSafeName(name)) continue;
    const st = await stat(join(dir, name)).catch(() => undefined);
    const child = path === '' ? name : `${path}/${name}`;
    if (st?.isDirectory()) {
      if (tag === 'VCALENDAR' || tag === 'VADDRESSBOOK') {
        report(`${label}: contains the collection ${name}, but a calendar or address book cannot`);
        ok = false;
      }
      ok = (await verifyDir(join(dir, name), child, describe, report, decode)) && ok;
    } else if (st?.isFile() && (tag === 'VCALENDAR' || tag === 'VADDRESSBOOK')) {
      ok = (await verifyItem(dir, name, label, tag, describe, uids, report, decode)) && ok;
    } else if (st?.isFile() && tag === '') {
      // Radicale loads every file of a collection as an item, and a plain collection holds none.
      report(`${label}/${name}: a file in a plain collection, which Radicale cannot load`);
      ok = false;
    }
  }
  return ok;
}

/** `decode`: item bytes to text in [encoding] stock (UTF-8 by default). */
export async function verifyTree(
  root: string,
  describe: ItemDescriber,
  report: Report,
  decode: Decode = (bytes) => UTF8_ENCODING.decode(bytes),
): Promise<boolean> {
  try {
    return await verifyDir(root, '', describe, report, decode);
  } catch (e) {
    report(`cannot read the storage: ${String(e)}`);
    return false;
  }
}
