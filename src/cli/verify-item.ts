/**
 * `--verify-item FILE` (Radicale 3.6+): checks one item file as the server would take it in a PUT:
 * decoded in [encoding] stock, within max_resource_size, and valid for its collection's kind (the
 * `.Radicale.props` tag of the folder it is in; a file elsewhere is taken by its content). It prints
 * what it found (component, UID, ETag) or why the file is refused, and exits 0 or 1. Reads only.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { parseProps } from '../storage/filesystem/props-json.js';
import { stockEncoding } from '../storage/filesystem/stock-encoding.js';
import type { CollectionInfo, CollectionTag } from '../storage/types.js';
import { createPlugins, pluginSettings } from './start.js';

/** The folder's props (tag, supported components) when it holds a `.Radicale.props`. */
function folderProps(file: string): Record<string, string> {
  try {
    return parseProps(readFileSync(join(dirname(file), '.Radicale.props'), 'utf8')).props;
  } catch {
    return {};
  }
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Verifies the file; `out` gets the report lines. Returns the exit status (0 valid, 1 not). */
export async function verifyItemFile(
  fileArg: string,
  config: Config,
  out: (line: string) => void,
): Promise<number> {
  const file = resolve(fileArg);
  const fail = (why: string): number => {
    out(`${file}: ${why}`);
    out('Item verification failed');
    return 1;
  };
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    return fail(`cannot read the file: ${reasonOf(e)}`);
  }
  const limit = config.server.max_resource_size; // capped to 80 % of max_content_length by the loader
  if (bytes.length > limit) return fail(`${bytes.length} bytes, more than max_resource_size (${limit})`);
  let stock;
  try {
    stock = stockEncoding(config.encoding.stock);
  } catch (e) {
    return fail(reasonOf(e));
  }
  let text: string;
  try {
    text = stock.decode(bytes);
  } catch {
    return fail(`not valid ${config.encoding.stock} ([encoding] stock)`);
  }
  const plugins = createPlugins(pluginSettings(config));
  const props = folderProps(file);
  const tag = props.tag as CollectionTag | undefined;
  const kind =
    tag !== undefined && tag !== '' ? plugins.byTag(tag) : plugins.all().find((k) => k.sniff(text));
  if (kind === undefined) {
    return fail(
      tag !== undefined && tag !== ''
        ? `its folder is a ${tag} collection, which holds no items Almanac can check`
        : 'neither an iCalendar object nor a vCard',
    );
  }
  const collection: CollectionInfo = {
    path: '',
    tag: kind.tag,
    props: { ...props, tag: kind.tag },
    lastModified: new Date(),
  };
  try {
    const d = await kind.validateItem(text, collection);
    out(
      `${file}: valid ${d.component || kind.tag} item, UID ${JSON.stringify(d.uid)}, ` +
        `ETag ${stock.etag(bytes)}`,
    );
    out('Item verification successful');
    return 0;
  } catch (e) {
    return fail(`invalid ${kind.tag === 'VCALENDAR' ? 'iCalendar object' : 'vCard'}: ${reasonOf(e)}`);
  }
}
