/**
 * The sharing management API (Radicale 3.7/3.8 app/post.py + sharing/__init__.py):
 * `POST <prefix>/.sharing/v1/<all|map|token>/<info|list|create|update|delete|enable|disable|hide|unhide>`,
 * with form (`application/x-www-form-urlencoded`) or JSON bodies and plain, JSON or CSV answers exactly
 * as Radicale writes them. It is a POST target of the sharing plugin (no change to the dispatcher).
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { toBool } from '../config/convert.js';
import { pathPolicyViolation } from '../config/path-policy.js';
import type { DavPlugin, DavRequest, DavResponse, PostTarget } from '../dav/context.js';
import { AccessDenied, DavError } from '../dav/errors.js';
import { parseRequestPath } from '../dav/href.js';
import type { Rights } from '../rights/types.js';
import type { Storage } from '../storage/types.js';
import {
  OVERLAY_PROPERTIES,
  PERMISSION_LETTERS,
  SHARE_FIELDS,
  TOKEN_PATH,
  csvCells,
  csvLine,
  pyRepr,
  radicaleTimestamp,
  storagePath,
  type Dict,
  type DictValue,
  type ShareRecord,
  type ShareType,
} from './record.js';
import type { Sharing } from './service.js';
import { bdayOptionProblem, type BdayOptionName } from './bday-template.js';

const HOOKS = ['info', 'list', 'create', 'update', 'delete', 'enable', 'disable', 'hide', 'unhide'] as const;
type Hook = (typeof HOOKS)[number];

/** Actions Radicale accepts per share (`config` → the bday options), with the type info answers. */
const SUPPORTED_ACTIONS: Readonly<Record<string, Readonly<Record<string, 'str' | 'int'>>>> = {
  config: {
    conversion_bday_summary_template: 'str',
    conversion_bday_description_template: 'str',
    conversion_bday_alarm_trigger_template: 'str',
    conversion_bday_categories: 'str',
    conversion_bday_age_max: 'int',
  },
};
const DELETE_MARK = '#DEL#';
/** Radicale's CONVERSIONS_WHITELIST, in its order. */
const CONVERSIONS = ['bday', 'none'] as const;
/** Permission letters a bday share may not have (it is read-only, with no properties enforcement). */
const BDAY_REFUSED_LETTERS = /[wEe]/;

/** What a request gave: the first value of each field; Properties as a dict (form: KEY=VALUE repeated). */
interface Input {
  readonly format: 'json' | 'form';
  readonly fields: ReadonlyMap<string, unknown>;
}

const bad = (message: string): DavError => new DavError(400, message);

// ---------------------------------------------------------------------------------------------
// input

function parseInput(contentType: string | undefined, body: Buffer): Input {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') {
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch {
      throw bad('Invalid JSON');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('Invalid JSON');
    const fields = new Map(Object.entries(v as Record<string, unknown>));
    for (const f of ['Enabled', 'Hidden'])
      if (fields.has(f) && typeof fields.get(f) !== 'boolean') throw bad(`Invalid value for ${f}`);
    return { format: 'json', fields };
  }
  if (type === 'application/x-www-form-urlencoded' || (type === '' && body.length === 0)) {
    const fields = new Map<string, unknown>();
    const props: Record<string, string> = {};
    let propsGiven = false;
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
      if (k === 'Properties') {
        propsGiven = true;
        if (v === '') continue;
        const kv = v.replace(/["']/g, '');
        if (!/^[^=]+=[^=]+$/.test(kv)) throw bad(`Invalid value for Properties: '${v}'`);
        const [key = '', value = ''] = kv.split('=');
        props[key] = value;
        continue;
      }
      if (fields.has(k)) continue;
      if (k === 'Enabled' || k === 'Hidden') {
        try {
          fields.set(k, toBool(v));
        } catch {
          throw bad(`Invalid value for ${k}`);
        }
      } else fields.set(k, v);
    }
    if (propsGiven) fields.set('Properties', props);
    return { format: 'form', fields };
  }
  throw bad('Content-type not supported');
}

function str(input: Input, key: string): string | undefined {
  const v = input.fields.get(key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`Invalid value for ${key}`);
  return v;
}

function bool(input: Input, key: string): boolean | undefined {
  const v = input.fields.get(key);
  return typeof v === 'boolean' ? v : undefined;
}

function checkPermissions(permissions: string): string {
  if (!Array.from(permissions).every((c) => PERMISSION_LETTERS.includes(c)))
    throw bad('Invalid value for Permissions');
  if (
    (permissions.includes('P') && permissions.includes('p')) ||
    (permissions.includes('E') && permissions.includes('e'))
  )
    throw bad('Invalid value for Permissions');
  return permissions;
}

function checkPath(path: string, what: string, config: Config): void {
  let segments: string[];
  try {
    segments = parseRequestPath(path).segments;
  } catch {
    throw bad(`Invalid value for ${what}`);
  }
  if (pathPolicyViolation(segments, config.server.validate_path_value) !== undefined)
    throw bad(`Invalid value for ${what}`);
  if (!path.endsWith('/')) throw bad(`${what} not ending with /`);
}

function checkUser(u: string): string {
  const name = u.startsWith(':') || u.startsWith('@') ? u.slice(1) : u;
  // eslint-disable-next-line no-control-regex
  if (name === '' || /[/\u0000-\u001f\u007f]/.test(name) || /^[:@]|[:@]$/.test(name))
    throw bad('Invalid value for User');
  return u;
}

function properties(input: Input): Record<string, string> | undefined {
  const v = input.fields.get('Properties');
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('Invalid value for Properties');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (!(OVERLAY_PROPERTIES as readonly string[]).includes(k))
      throw bad(`Property not supported to overlay: '${k}'`);
    if (typeof x !== 'string') throw bad('Invalid value for Properties');
    out[k] = x;
  }
  return out;
}

function actions(input: Input): Dict | undefined {
  let v = input.fields.get('Actions');
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw bad('Actions format not valid: not JSON');
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw bad('Actions format not valid: not a dict');
  const out: Record<string, Record<string, DictValue>> = {};
  for (const [group, entries] of Object.entries(v as Record<string, unknown>)) {
    const allowed = SUPPORTED_ACTIONS[group];
    if (!allowed) throw bad(`Actions format not valid: unknown action '${group}'`);
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries))
      throw bad(`Actions format not valid: '${group}' is not a dict`);
    const g: Record<string, DictValue> = {};
    for (const [k, x] of Object.entries(entries as Record<string, unknown>)) {
      const type = allowed[k];
      if (!type) throw bad(`Actions format not valid: unknown option '${group}.${k}'`);
      if (x === DELETE_MARK) g[k] = x;
      else if (type === 'int') {
        const n = typeof x === 'number' ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : NaN;
        if (bdayOptionProblem(k as BdayOptionName, n) !== undefined)
          throw bad(`Actions format not valid: '${k}'`);
        g[k] = n;
      } else {
        if (typeof x !== 'string') throw bad(`Actions format not valid: '${k}'`);
        // The templates as the config loader checks them (known placeholders, alarm entries).
        const problem = bdayOptionProblem(k as BdayOptionName, x);
        if (problem !== undefined) throw bad(`Actions format not valid: ${problem}`);
        g[k] = x;
      }
    }
    out[group] = g;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// output

/** Python's json.dumps (separators ', ' and ': ', ensure_ascii). */
export function pyJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string')
    return JSON.stringify(v).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${pyJson(k)}: ${pyJson(x)}`)
    .join(', ')}}`;
}

type Answer = Record<string, unknown>;

function plainValue(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `(${v.map(String).join(' ')})`;
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || v === undefined) return 'None';
  return `'${pyRepr(v as Dict)}'`;
}

function respond(answer: Answer, format: 'json' | 'csv' | 'plain', hook: Hook): DavResponse {
  const content = answer.Content as ShareRecord[] | undefined;
  if (format === 'csv') {
    if (hook !== 'list') throw bad('CSV output format is only allowed for list action');
    const body = csvLine(SHARE_FIELDS) + (content ?? []).map((r) => csvLine(csvCells(r))).join('');
    return { status: 200, headers: { 'Content-Type': 'text/csv; charset=utf-8' }, body };
  }
  if (format === 'json')
    return { status: 200, headers: { 'Content-Type': 'text/json; charset=utf-8' }, body: pyJson(answer) };
  const lines: string[] = [];
  for (const [k, v] of Object.entries(answer)) if (k !== 'Content') lines.push(`${k}=${plainValue(v)}`);
  if (content) {
    lines.push(`Fields="${SHARE_FIELDS.join(';')}"`);
    content.forEach((r, i) => {
      const row = csvLine(csvCells(r)).replace(/\r\n$/, '');
      lines.push(`Content[${i}]="${row.replace(/"/g, '\\"')}"`);
    });
  }
  // Radicale sends the plain answer as text/csv.
  return { status: 200, headers: { 'Content-Type': 'text/csv; charset=utf-8' }, body: lines.join('\n') };
}

function outputFormat(accept: string | undefined, input: Input['format']): 'json' | 'csv' | 'plain' {
  const a = accept ?? '';
  if (a.includes('application/json')) return 'json';
  if (a.includes('text/csv')) return 'csv';
  if (a.includes('text/plain')) return 'plain';
  return input === 'json' ? 'json' : 'plain';
}

// ---------------------------------------------------------------------------------------------
// the hooks

export interface SharingApiDeps {
  readonly config: Config;
  /** The storage and rights without any share view: PathMapped is the owner's real collection. */
  readonly storage: Storage;
  readonly rights: Rights;
}

function newToken(): string {
  const bytes = Buffer.concat([
    Buffer.from(randomUUID().replace(/-/g, ''), 'hex'),
    Buffer.from([0]),
    Buffer.from(randomUUID().replace(/-/g, ''), 'hex'),
  ]);
  return `/.token/v1/${bytes.toString('base64url')}/`;
}

class Api {
  constructor(
    private readonly deps: SharingApiDeps,
    private readonly sharing: Sharing,
  ) {}

  private letters(user: string, groups: ReadonlySet<string>, path: string): string {
    return this.deps.rights.authorization(user, groups, storagePath(path));
  }

  /** Radicale's read check on a collection: r on a calendar/address book, R on a plain one. */
  private async canRead(user: string, groups: ReadonlySet<string>, path: string): Promise<boolean> {
    const info = await this.deps.storage.getCollection(storagePath(path));
    const l = this.letters(user, groups, path);
    return info?.tag ? l.includes('r') : l.includes('R') || l.includes('r');
  }

  private mayCreate(type: ShareType, letters: string): boolean {
    const s = this.deps.config.sharing;
    const [permit, grant, deny] =
      type === 'token' ? [s.permit_create_token, 't', 'T'] : [s.permit_create_map, 'm', 'M'];
    // As Radicale's code and tests (its docs say the opposite case).
    return permit ? !letters.includes(deny) : letters.includes(grant);
  }

  async handle(req: DavRequest, type: 'all' | ShareType, hook: Hook): Promise<DavResponse> {
    const input = parseInput(req.header('content-type'), await req.body());
    const format = outputFormat(req.header('accept'), input.format);
    if (format === 'csv' && hook !== 'list') throw bad('CSV output format is only allowed for list action');
    if (type === 'all' && hook !== 'list' && hook !== 'info') throw bad('Invalid share type');
    const answer = await this.run(req, type, hook, input);
    return respond(answer, format, hook);
  }

  private checkedFields(req: DavRequest, type: 'all' | ShareType, hook: Hook, input: Input) {
    const perms = str(input, 'Permissions');
    if (perms !== undefined) checkPermissions(perms);
    let key = str(input, 'PathOrToken');
    if (key !== undefined && key !== '') {
      if (type === 'token' && hook === 'create') throw bad('PathOrToken not supported');
      if (req.prefix && key.startsWith(`${req.prefix}/`)) key = key.slice(req.prefix.length);
      if (type === 'token') {
        if (!TOKEN_PATH.test(key)) throw bad('Invalid value for PathOrToken');
      } else if (type === 'map') checkPath(key, 'PathOrToken', this.deps.config);
    } else key = undefined;
    let mapped = str(input, 'PathMapped');
    if (mapped !== undefined && mapped !== '') {
      if (req.prefix && mapped.startsWith(`${req.prefix}/`)) mapped = mapped.slice(req.prefix.length);
      checkPath(mapped, 'PathMapped', this.deps.config);
    } else mapped = undefined;
    const user = str(input, 'User');
    if (user !== undefined && user !== '') checkUser(user);
    const conversion = str(input, 'Conversion');
    if (conversion !== undefined && conversion !== 'none' && conversion !== 'bday')
      throw bad('Invalid value for Conversion');
    if (key === undefined && hook !== 'list' && hook !== 'create' && hook !== 'info')
      throw bad('Missing PathOrToken');
    return {
      perms,
      key,
      mapped,
      user: user === '' ? undefined : user,
      conversion,
      props: properties(input),
      actions: actions(input),
      enabled: bool(input, 'Enabled'),
      hidden: bool(input, 'Hidden'),
    };
  }

  private async run(req: DavRequest, type: 'all' | ShareType, hook: Hook, input: Input): Promise<Answer> {
    const f = this.checkedFields(req, type, hook, input);
    const store = this.sharing.store;
    const me = req.user;
    const s = this.deps.config.sharing;
    if (hook === 'info') {
      const answer: Answer = { ApiVersion: 1, Status: 'success' };
      if (type !== 'token') {
        answer.FeatureEnabledCollectionByMap = this.sharing.byMap;
        answer.PermittedCreateCollectionByMap = s.permit_create_map;
      }
      if (type !== 'map') {
        answer.FeatureEnabledCollectionByToken = this.sharing.byToken;
        answer.PermittedCreateCollectionByToken = s.permit_create_token;
      }
      answer.SupportedConversions = [...CONVERSIONS];
      answer.PermittedPropertiesOverlay = s.permit_properties_overlay;
      answer.SupportedPropertiesOverlay = [...OVERLAY_PROPERTIES];
      answer.SupportedActions = SUPPORTED_ACTIONS;
      return answer;
    }
    if (hook === 'list') {
      const rows = (await store.list()).filter(
        (r) =>
          (type === 'all' || r.ShareType === type) &&
          (r.Owner === me || r.User === me) &&
          (f.key === undefined || r.PathOrToken === f.key) &&
          (f.mapped === undefined || r.PathMapped === f.mapped) &&
          (f.conversion === undefined || r.Conversion === f.conversion),
      );
      const answer: Answer = {
        ApiVersion: 1,
        Lines: rows.length,
        Status: rows.length ? 'success' : 'not-found',
      };
      if (rows.length) answer.Content = rows.map((r) => this.outward(req, r));
      return answer;
    }
    const shareType = type as ShareType;
    if (hook === 'create') return this.create(req, shareType, f);
    const key = f.key as string;
    const share = await store.get(shareType, key);
    if (share === undefined) throw new DavError(404, 'Share not found');
    const isOwner = share.Owner === me;
    const isUser = share.User === me;
    if (!isOwner && !isUser) throw new AccessDenied('Not the owner or user of this share');
    const now = radicaleTimestamp();
    const both = share.Owner === share.User;
    let change: (r: ShareRecord) => ShareRecord;
    if (hook === 'delete') {
      if (!isOwner) throw new AccessDenied('Only the owner may delete a share');
      if ((await store.delete(shareType, key)) !== 'ok') throw new DavError(404, 'Share not found');
      return { ApiVersion: 1, Status: 'success' };
    }
    if (hook === 'enable' || hook === 'disable' || hook === 'hide' || hook === 'unhide') {
      const value = hook === 'enable' || hook === 'hide';
      const flag = hook === 'enable' || hook === 'disable' ? 'Enabled' : 'Hidden';
      change = (r) => ({
        ...r,
        ...(isOwner ? { [`${flag}ByOwner`]: value } : {}),
        ...(isUser || (isOwner && both) ? { [`${flag}ByUser`]: value } : {}),
        TimestampUpdated: now,
      });
    } else {
      // update
      if (!isOwner && (f.mapped !== undefined || f.perms !== undefined || f.user !== undefined))
        throw new AccessDenied('Only the owner may change PathMapped, Permissions or User');
      if (f.conversion !== undefined && f.conversion !== share.Conversion)
        throw bad('Change of conversion is not supported');
      if (f.mapped !== undefined && !/[ri]/.test(this.letters(me, req.groups, f.mapped)))
        throw new AccessDenied('No read rights on PathMapped');
      if (!isOwner && f.props !== undefined && !this.overlayAllowed(share))
        throw new AccessDenied('Properties overlay is not permitted');
      if (f.actions !== undefined && !isOwner) throw new AccessDenied('Only the owner may change Actions');
      let perms = f.perms;
      const userAfter = f.user ?? share.User;
      if (perms !== undefined && (userAfter.startsWith(':') || userAfter.startsWith('@'))) {
        if (/[EP]/.test(perms)) throw bad('Permissions E and P are not allowed for group and realm shares');
        perms = addLetters(perms, 'ep');
      }
      change = (r) => ({
        ...r,
        ...(f.mapped !== undefined ? { PathMapped: f.mapped } : {}),
        ...(perms !== undefined ? { Permissions: perms } : {}),
        ...(f.user !== undefined ? { User: f.user } : {}),
        ...(f.enabled !== undefined && isOwner ? { EnabledByOwner: f.enabled } : {}),
        ...(f.enabled !== undefined && (isUser || both) ? { EnabledByUser: f.enabled } : {}),
        ...(f.hidden !== undefined && isOwner ? { HiddenByOwner: f.hidden } : {}),
        ...(f.hidden !== undefined && (isUser || both) ? { HiddenByUser: f.hidden } : {}),
        ...(f.props !== undefined ? { Properties: mergeProperties(r.Properties, f.props) } : {}),
        ...(f.actions !== undefined ? { Actions: mergeActions(r.Actions, f.actions) } : {}),
        TimestampUpdated: now,
      });
    }
    if ((await store.update(shareType, key, change)) !== 'ok') throw new DavError(404, 'Share not found');
    req.log.info(`sharing: ${hook} of ${shareType} share ${key} by ${me}`);
    return { ApiVersion: 1, Status: 'success' };
  }

  private overlayAllowed(share: ShareRecord): boolean {
    const permissions = share.Permissions;
    const rights = this.letters(share.Owner, new Set(), share.PathMapped);
    if (permissions.includes('p') || (rights.includes('p') && !permissions.includes('P'))) return false;
    if (permissions.includes('P') || (rights.includes('P') && !permissions.includes('p'))) return true;
    return this.deps.config.sharing.permit_properties_overlay;
  }

  private outward(req: DavRequest, r: ShareRecord): ShareRecord {
    return r.ShareType === 'token' && req.prefix ? { ...r, PathOrToken: req.prefix + r.PathOrToken } : r;
  }

  private async create(
    req: DavRequest,
    type: ShareType,
    f: ReturnType<Api['checkedFields']>,
  ): Promise<Answer> {
    const me = req.user;
    const s = this.deps.config.sharing;
    if (f.mapped === undefined) throw bad('Missing PathMapped');
    const info = await this.deps.storage.getCollection(storagePath(f.mapped));
    if (info === undefined) throw new DavError(404, 'PathMapped not found');
    if (!(await this.canRead(me, req.groups, f.mapped)))
      throw new AccessDenied('No read rights on PathMapped');
    if (!this.mayCreate(type, this.letters(me, req.groups, f.mapped)))
      throw new AccessDenied(`Not permitted to create a ${type} share`);
    const conversion = f.conversion ?? 'none';
    if (conversion === 'bday') {
      if (info.tag !== 'VADDRESSBOOK') throw bad('Conversion is not supported for collection type');
      // As Radicale: checked only when Permissions are given (the view drops `w` on bday shares anyway).
      if (f.perms !== undefined && BDAY_REFUSED_LETTERS.test(f.perms))
        throw bad(`Permissions are not supported for conversion: '${f.perms}'`);
    }
    let perms =
      f.perms ?? (type === 'token' ? s.default_permissions_create_token : s.default_permissions_create_map);
    checkPermissions(perms);
    const now = radicaleTimestamp();
    let key: string;
    let user: string;
    let enabledByUser: boolean | undefined;
    let hiddenByUser: boolean | undefined;
    if (type === 'token') {
      key = newToken();
      user = f.user ?? me;
    } else {
      if (f.key === undefined) throw bad('Missing PathOrToken');
      key = f.key;
      if (f.user === undefined) throw bad('Missing User');
      user = f.user;
      const all = await this.sharing.store.list();
      if (all.some((r) => r.ShareType === 'map' && r.PathOrToken === key))
        throw new DavError(409, 'PathOrToken is already a share');
      if (all.some((r) => r.PathMapped === f.mapped && r.User === user && r.Conversion === conversion))
        throw new DavError(409, 'A share of PathMapped with this User and Conversion exists');
      const group = user.startsWith(':') || user.startsWith('@');
      if (group) {
        if (!key.startsWith('/{user}/')) throw new AccessDenied('PathOrToken must start with /{user}/');
        if (/[EP]/.test(perms)) throw bad('Permissions E and P are not allowed for group and realm shares');
        perms = addLetters(perms, 'ep');
        enabledByUser = true;
        hiddenByUser = false;
      } else {
        if (!/[rR]/.test(this.letters(user, new Set(), key)))
          throw new AccessDenied('The user has no read rights on PathOrToken');
        if (await this.deps.storage.getCollection(storagePath(key)))
          throw new DavError(409, 'PathOrToken is an existing collection');
      }
    }
    const enabled = f.enabled ?? false;
    const hidden = f.hidden ?? true;
    const record: ShareRecord = {
      ShareType: type,
      PathOrToken: key,
      PathMapped: f.mapped,
      Conversion: conversion,
      Owner: me,
      User: user,
      Permissions: perms,
      EnabledByOwner: enabled,
      EnabledByUser: enabledByUser ?? (me === user ? enabled : false),
      HiddenByOwner: hidden,
      HiddenByUser: hiddenByUser ?? (me === user ? hidden : true),
      TimestampCreated: now,
      TimestampUpdated: now,
      Properties: f.props ?? null,
      Actions: f.actions ?? null,
    };
    const result = await this.sharing.store.create(record);
    if (result === 'conflict') throw new DavError(409, 'Share exists');
    req.log.info(`sharing: ${me} created ${type} share ${key} of ${f.mapped} for ${user}`);
    const answer: Answer = { ApiVersion: 1, Status: 'success' };
    if (type === 'token') answer.PathOrToken = (req.prefix || '') + key;
    return answer;
  }
}

function addLetters(perms: string, letters: string): string {
  let out = perms;
  for (const c of letters) if (!out.includes(c)) out += c;
  return out;
}

function mergeProperties(old: Dict | null, given: Record<string, string>): Dict {
  if (Object.keys(given).length === 0) return {};
  const out = new Map<string, DictValue>(Object.entries(old ?? {}));
  for (const [k, v] of Object.entries(given)) {
    if (v === '') out.delete(k);
    else out.set(k, v);
  }
  return Object.fromEntries(out);
}

function mergeActions(old: Dict | null, given: Dict): Dict {
  const out = new Map<string, Map<string, DictValue>>();
  for (const [g, v] of Object.entries(old ?? {}))
    if (typeof v === 'object' && v !== null) out.set(g, new Map(Object.entries(v)));
  for (const [g, v] of Object.entries(given)) {
    let group = out.get(g);
    if (!group) out.set(g, (group = new Map<string, DictValue>()));
    for (const [k, x] of Object.entries(v as Record<string, DictValue>)) {
      if (x === DELETE_MARK) group.delete(k);
      else group.set(k, x);
    }
  }
  return Object.fromEntries(
    [...out].filter(([, v]) => v.size > 0).map(([g, v]) => [g, Object.fromEntries(v)]),
  );
}

/**
 * The sharing plugin: the POST target of `/.sharing/`. Registered whatever the config, so that the API
 * answers 404 while sharing is off (as Radicale's) instead of 405.
 */
export function sharingPlugin(sharing: Sharing | undefined, deps: SharingApiDeps): DavPlugin {
  const api = sharing ? new Api(deps, sharing) : undefined;
  const target: PostTarget = {
    name: 'sharing',
    ownRightsCheck: true,
    matches: (req) => req.segments[0] === '.sharing',
    handle: async (req) => {
      if (!api || !sharing) throw new DavError(404, 'Sharing is not enabled');
      if (req.user === '') throw new AccessDenied('Sharing needs a login');
      const [, version, type, hook, ...rest] = req.segments;
      if (version !== 'v1' || rest.length > 0 || type === undefined || hook === undefined)
        throw new DavError(404, 'Not Found');
      if (!/^[a-z]+$/.test(type) || !/^[a-z]+$/.test(hook)) throw new DavError(404, 'Not Found');
      if (type !== 'all' && type !== 'map' && type !== 'token') throw new DavError(404, 'Unknown share type');
      if ((type === 'map' && !sharing.byMap) || (type === 'token' && !sharing.byToken))
        throw new DavError(404, `Sharing by ${type} is not enabled`);
      if (!(HOOKS as readonly string[]).includes(hook)) throw new DavError(404, 'Unknown action');
      return api.handle(req, type, hook as Hook);
    },
  };
  return { postTargets: [target] };
}
