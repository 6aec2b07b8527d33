/**
 * [auth] type = ldap (ldapts): bind as the reader, search the user with ldap_filter, bind as the user's
 * DN with the given password, then read groups (ldap_groups_attribute values, or a search of groups whose
 * ldap_group_members_attribute holds the user's DN). One short connection per login attempt.
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
// Loaded on first use: ldapts and its dependencies cost ~4.5 MiB of resident memory otherwise.
import type { Client, Entry } from 'ldapts';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { FAILED, type BackendResult, type PasswordBackend } from '../backend.js';
import { escapeFilterValue, firstRdnValue, formatFilter } from './ldap-text.js';

const TIMEOUT_MS = 10_000;

interface LdapSettings {
  readonly url: string;
  readonly startTls: boolean;
  readonly tlsOptions: ConnectionOptions;
  readonly base: string;
  readonly readerDn: string;
  readonly secret: string;
  readonly filter: string;
  readonly userAttribute: string;
  readonly groupsAttribute: string;
  readonly groupMembersAttribute: string;
  readonly groupBase: string;
  readonly groupFilter: string;
}

export async function createLdapBackend(config: Config, log: Logger): Promise<PasswordBackend> {
  const settings = await readSettings(config);
  return {
    cacheable: true,
    async login(user, password) {
      // An empty password would be an "unauthenticated bind" that LDAP servers accept: never a login.
      if (password === '') return FAILED;
      try {
        return await ldapLogin(settings, user, password, log);
      } catch (err) {
        log.error({ err }, `ldap: login of ${JSON.stringify(user)} failed: ${String(err)}`);
        return FAILED;
      }
    },
    close: () => Promise.resolve(),
  };
}

async function readSettings(config: Config): Promise<LdapSettings> {
  const a = config.auth;
  let secret = a.ldap_secret;
  if (a.ldap_secret_file !== '') secret = (await readFile(a.ldap_secret_file, 'utf8')).trim();
  let url = a.ldap_uri;
  if (a.ldap_security === 'tls' && url.startsWith('ldap://')) url = `ldaps://${url.slice('ldap://'.length)}`;
  const tlsOptions: ConnectionOptions = { rejectUnauthorized: a.ldap_ssl_verify_mode === 'REQUIRED' };
  if (a.ldap_ssl_ca_file !== '') tlsOptions.ca = await readFile(a.ldap_ssl_ca_file);
  if (!a.ldap_filter.includes('{0}')) throw new Error('[auth] ldap_filter must contain {0} (the login)');
  return {
    url,
    startTls: a.ldap_security === 'starttls',
    tlsOptions,
    base: a.ldap_base,
    readerDn: a.ldap_reader_dn,
    secret,
    filter: a.ldap_filter,
    userAttribute: a.ldap_user_attribute,
    groupsAttribute: a.ldap_groups_attribute,
    groupMembersAttribute: a.ldap_group_members_attribute,
    groupBase: a.ldap_group_base !== '' ? a.ldap_group_base : a.ldap_base,
    groupFilter: a.ldap_group_filter,
  };
}

async function connect(s: LdapSettings): Promise<Client> {
  const { Client } = await import('ldapts');
  // ldapts speaks TLS from the first byte whenever tlsOptions is given, so only pass it for ldaps://.
  const client = new Client({
    url: s.url,
    timeout: TIMEOUT_MS,
    connectTimeout: TIMEOUT_MS,
    ...(s.url.startsWith('ldaps://') ? { tlsOptions: s.tlsOptions } : {}),
  });
  if (s.startTls) await client.startTLS(s.tlsOptions);
  return client;
}

async function ldapLogin(
  s: LdapSettings,
  user: string,
  password: string,
  log: Logger,
): Promise<BackendResult> {
  const reader = await connect(s);
  try {
    if (s.readerDn !== '') await reader.bind(s.readerDn, s.secret);
    const attributes = [s.userAttribute, s.groupsAttribute].filter((x) => x !== '');
    const { searchEntries } = await reader.search(s.base, {
      scope: 'sub',
      filter: formatFilter(s.filter, escapeFilterValue(user)),
      attributes: attributes.length > 0 ? attributes : ['1.1'],
    });
    if (searchEntries.length !== 1) {
      log.debug(`ldap: ${searchEntries.length} entries match ${JSON.stringify(user)}; need exactly one`);
      return FAILED;
    }
    const entry = searchEntries[0] as Entry;
    if (!(await bindAs(s, entry.dn, password))) return FAILED;
    const groups = await readGroups(s, reader, entry);
    const renamed = s.userAttribute !== '' ? firstString(entry, s.userAttribute) : undefined;
    return { ok: true, groups, ...(renamed !== undefined ? { user: renamed } : {}) };
  } finally {
    await reader.unbind().catch(() => undefined);
  }
}

/** Binds as `dn` on a fresh connection: success means the password is right. */
async function bindAs(s: LdapSettings, dn: string, password: string): Promise<boolean> {
  const client = await connect(s);
  try {
    await client.bind(dn, password);
    return true;
  } catch (err) {
    if (isInvalidCredentials(err)) return false;
    throw err;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

function isInvalidCredentials(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  return e?.code === 49 || e?.name === 'InvalidCredentialsError';
}

async function readGroups(s: LdapSettings, reader: Client, entry: Entry): Promise<string[]> {
  const groups = new Set<string>();
  if (s.groupsAttribute !== '')
    for (const dn of strings(entry, s.groupsAttribute)) groups.add(firstRdnValue(dn));
  if (s.groupMembersAttribute !== '') {
    const member = `(${s.groupMembersAttribute}=${escapeFilterValue(entry.dn)})`;
    const filter = s.groupFilter !== '' ? `(&${wrap(s.groupFilter)}${member})` : member;
    const { searchEntries } = await reader.search(s.groupBase, { scope: 'sub', filter, attributes: ['1.1'] });
    for (const g of searchEntries) groups.add(firstRdnValue(g.dn));
  }
  return [...groups];
}

function wrap(filter: string): string {
  return filter.startsWith('(') ? filter : `(${filter})`;
}

function strings(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
}

function firstString(entry: Entry, attribute: string): string | undefined {
  return strings(entry, attribute)[0];
}
