/**
 * [rights] type = from_file: Radicale's rules file, read once at start-up. One INI section per rule, in
 * file order; the first rule whose `user` regex (or `groups`) and `collection` regex both fully match
 * wins, and its `permissions` letters are the answer. No match = no rights.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { parseIni } from '../config/ini.js';
import { applyFormat, parseFormat, type FormatTemplate } from './format.js';
import { interpolate } from './interpolation.js';
import { compileFullMatch, escapeRegex, groupCount } from './python-regex.js';

const NEVER = /(?!)/;
const LETTERS = /^[RrWwiDdOoTtMmPpEe]*$/;

export interface RightsRule {
  readonly name: string;
  readonly user: RegExp;
  readonly collection: FormatTemplate;
  readonly collectionFlags: string;
  readonly groups: ReadonlySet<string>;
  readonly permissions: string;
}

export async function loadRightsFile(path: string): Promise<RightsRule[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`[rights] file ${path}: cannot read: ${String(err)}`, { cause: err });
  }
  return parseRightsFile(text, path);
}

export function parseRightsFile(text: string, source: string): RightsRule[] {
  const doc = parseIni(text, source);
  const rules: RightsRule[] = [];
  for (const [name, section] of doc.sections) {
    const what = `${source}, section [${name}] (line ${section.line})`;
    const raw = (key: string) => section.options.get(key)?.value;
    const get = (key: string) => {
      const v = raw(key);
      return v === undefined ? undefined : interpolate(v, raw, `${what} ${key}`);
    };
    const collectionText = get('collection');
    if (collectionText === undefined) throw new Error(`${what}: missing 'collection'`);
    const permissions = get('permissions') ?? '';
    if (!LETTERS.test(permissions))
      throw new Error(`${what}: unknown permission letter in ${JSON.stringify(permissions)}`);
    if (/P/.test(permissions) && /p/.test(permissions)) throw new Error(`${what}: 'P' and 'p' conflict`);
    if (/E/.test(permissions) && /e/.test(permissions)) throw new Error(`${what}: 'E' and 'e' conflict`);

    // Like Radicale, the user pattern also goes through format() (with nothing): braces must be doubled.
    const userTemplate = parseFormat(get('user') ?? '', `${what} user`);
    if (userTemplate.maxIndex >= 0 || userTemplate.names.size > 0) {
      throw new Error(`${what} user: placeholders are not allowed here (write '{{' and '}}' for braces)`);
    }
    // A groups-only rule (no `user` key) must not also match the anonymous user through the empty
    // pattern, as it would in Radicale: then the user side never matches.
    const user =
      raw('user') === undefined && get('groups') !== undefined
        ? NEVER
        : compileFullMatch(applyFormat(userTemplate, [], {}), `${what} user`);
    const collection = parseFormat(collectionText, `${what} collection`);
    for (const n of collection.names) {
      if (n !== 'user') throw new Error(`${what} collection: unknown placeholder {${n}}`);
    }
    if (collection.maxIndex >= groupCount(user)) {
      throw new Error(
        `${what} collection: {${collection.maxIndex}} but the user pattern has ${groupCount(user)} groups`,
      );
    }
    // Compile once with sample values so a broken collection regex is a start-up error.
    const sample = compileFullMatch(applyFormat(collection, [], { user: 'x' }), `${what} collection`);
    const groups = new Set(
      (get('groups') ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter((g) => g !== ''),
    );
    rules.push({ name, user, collection, collectionFlags: sample.flags, groups, permissions });
  }
  return rules;
}

/** The letters of the first matching rule, or '' when none matches. */
export function matchRules(
  rules: readonly RightsRule[],
  user: string,
  groups: ReadonlySet<string>,
  path: string,
  log: Logger | undefined,
): string {
  const escapedUser = escapeRegex(user);
  for (const rule of rules) {
    const userMatch = rule.user.exec(user);
    const groupMatch = [...rule.groups].some((g) => groups.has(g));
    if (userMatch === null && !groupMatch) continue;
    // The user regex's groups are only known when it matched; a group-only match cannot use them.
    if (userMatch === null && rule.collection.maxIndex >= 0) continue;
    const captured = userMatch === null ? [] : userMatch.slice(1).map((g) => escapeRegex(g ?? ''));
    const pattern = applyFormat(rule.collection, captured, { user: escapedUser });
    const collectionRe = compileCollection(pattern, rule);
    if (collectionRe?.test(path) === true) {
      log?.debug(
        `Rights: ${JSON.stringify(user)}:${JSON.stringify(path)} matches [${rule.name}]: ${rule.permissions}`,
      );
      return rule.permissions;
    }
  }
  log?.debug(`Rights: ${JSON.stringify(user)}:${JSON.stringify(path)} doesn't match any section`);
  return '';
}

function compileCollection(pattern: string, rule: RightsRule): RegExp | undefined {
  try {
    return compileFullMatch(pattern, `[${rule.name}] collection`);
  } catch {
    return undefined; // cannot happen with escaped values; treated as no match rather than a crash
  }
}
