/**
 * Calendar user addresses (RFC 6638 §2.4.1): which mailto: addresses a user has, and which local user
 * an address names. From `[scheduling] addresses` (user:address pairs), `[scheduling] email_domain`
 * (user → user@domain), a login that is itself an address, and the principal URL.
 */
import type { Config } from '../../config/schema.js';
import type { Storage } from '../../storage/types.js';
import { collectionHref, hrefToSegments } from '../../dav/href.js';

const EMAIL = /^[^@\s:/]+@[^@\s/]+\.[^@\s/]+$/;

/** Lower-case mail address of a `mailto:` URI (or a bare address); undefined when it is not one. */
export function mailOf(address: string): string | undefined {
  const a = address.trim();
  const bare = /^mailto:/i.test(a) ? a.slice(7) : a;
  let decoded: string;
  try {
    decoded = decodeURIComponent(bare);
  } catch {
    return undefined;
  }
  const mail = decoded.trim().toLowerCase();
  return EMAIL.test(mail) ? mail : undefined;
}

/**
 * The calendar user addresses a configuration gives: `[scheduling] addresses` both ways and
 * `[scheduling] email_domain` (lower case, trimmed). Built once per configuration.
 */
export interface CalendarUserAddresses {
  readonly byUser: ReadonlyMap<string, readonly string[]>;
  readonly byMail: ReadonlyMap<string, string>;
  readonly emailDomain: string;
}

const built = new WeakMap<Config['scheduling'], CalendarUserAddresses>();

export function calendarUserAddresses(config: Pick<Config, 'scheduling'>): CalendarUserAddresses {
  let m = built.get(config.scheduling);
  if (m) return m;
  const byUser = new Map<string, string[]>();
  const byMail = new Map<string, string>();
  for (const entry of config.scheduling.addresses) {
    const i = entry.indexOf(':');
    const user = entry.slice(0, i).trim();
    const mail = i > 0 ? mailOf(entry.slice(i + 1)) : undefined;
    if (!user || mail === undefined || byMail.has(mail)) continue;
    byMail.set(mail, user);
    byUser.set(user, [...(byUser.get(user) ?? []), mail]);
  }
  m = { byUser, byMail, emailDomain: config.scheduling.email_domain.trim().toLowerCase() };
  built.set(config.scheduling, m);
  return m;
}

/** A user's mail addresses (lower case, without mailto:), the configured ones first. */
export function mailAddresses(addresses: CalendarUserAddresses, user: string): string[] {
  const out = [...(addresses.byUser.get(user) ?? [])];
  const domain = addresses.emailDomain;
  if (domain && !user.includes('@')) {
    const mail = mailOf(`${user}@${domain}`);
    if (mail !== undefined && !out.includes(mail)) out.push(mail);
  }
  const own = mailOf(user);
  if (own !== undefined && !out.includes(own)) out.push(own);
  return out;
}

/** The calendar-user-address-set of a user: mailto: URIs, then the principal URL. */
export function userAddresses(addresses: CalendarUserAddresses, prefix: string, user: string): string[] {
  return [...mailAddresses(addresses, user).map((m) => `mailto:${m}`), collectionHref(prefix, user)];
}

/** Whether an address (as written in ORGANIZER/ATTENDEE) is one of the user's. */
export function isUserAddress(
  addresses: CalendarUserAddresses,
  prefix: string,
  user: string,
  address: string,
): boolean {
  const mail = mailOf(address);
  if (mail !== undefined) return mailAddresses(addresses, user).includes(mail);
  return principalOfUrl(prefix, address) === user;
}

function principalOfUrl(prefix: string, address: string): string | undefined {
  if (!/^(https?:\/\/|\/)/i.test(address.trim())) return undefined;
  const parsed = hrefToSegments(address.trim(), prefix);
  return parsed && parsed.segments.length === 1 ? parsed.segments[0] : undefined;
}

/** Key that two spellings of one address share (mailto: case, a bare address). */
export function addressKey(address: string): string {
  const mail = mailOf(address);
  return mail !== undefined ? `mailto:${mail}` : address.trim();
}

/**
 * The local user an address names, or undefined (then it is someone outside, reached by iMIP when
 * it is a mailto:). A configured address is always local; an address of `email_domain`, a login
 * that is an address, and a principal URL are local when that user's principal collection exists
 * (so that a mistyped name creates nothing).
 */
export async function localUserOf(
  addresses: CalendarUserAddresses,
  storage: Storage,
  prefix: string,
  address: string,
): Promise<string | undefined> {
  const mail = mailOf(address);
  const exists = async (user: string): Promise<boolean> =>
    !user.includes('/') && (await storage.getCollection(user))?.tag === '';
  if (mail === undefined) {
    const user = principalOfUrl(prefix, address);
    return user !== undefined && (await exists(user)) ? user : undefined;
  }
  const mapped = addresses.byMail.get(mail);
  if (mapped !== undefined) return mapped;
  const domain = addresses.emailDomain;
  if (domain && mail.endsWith(`@${domain}`)) {
    const local = mail.slice(0, -domain.length - 1);
    // The login may differ in case from the address (addresses are compared in lower case).
    if (await exists(local)) return local;
  }
  if (await exists(mail)) return mail;
  return undefined;
}
