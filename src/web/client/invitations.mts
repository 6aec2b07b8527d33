/**
 * Invitations from the user's schedule inbox (RFC 6638, when [scheduling] is on): listing the iTIP
 * messages, and answering one the way a CalDAV client does — a PUT of the user's own copy (found by
 * UID in their calendars) with their PARTSTAT changed, after which the server sends the REPLY to the
 * organizer; then the DELETE of the inbox message.
 */
import { HttpError, type DavClient } from './dav.mjs';
import { parseMultistatus } from './dav-xml.mjs';
import { h } from './dom.mjs';
import {
  formatWhen,
  isNewer,
  normalizeAddress,
  parseItip,
  partstatVerb,
  personLabel,
  setPartstat,
  type ItipMessage,
  type PartStat,
} from './itip.js';
import { NS, XMLNS, clark, escapeXml, type Collection } from './requests.js';

export interface Invitation {
  readonly href: string;
  readonly message: ItipMessage;
  /** Older messages about the same object (an earlier request, the request a cancellation ends): removed with it. */
  readonly older: readonly string[];
}

export interface Inbox {
  readonly href: string;
  /** The user's calendar user addresses (calendar-user-address-set). */
  readonly addresses: readonly string[];
}

/** The user's schedule inbox, or null when the server does not schedule. */
export async function findInbox(dav: DavClient, principal: string): Promise<Inbox | null> {
  const [me] = await dav.propfind(principal, '0', [
    '<C:schedule-inbox-URL/>',
    '<C:calendar-user-address-set/>',
  ]);
  const inbox = me?.props.get(clark(NS.C, 'schedule-inbox-URL'));
  const href = inbox?.getElementsByTagNameNS(NS.D, 'href')[0]?.textContent?.trim() ?? '';
  if (me === undefined || href === '') return null;
  const set = me.props.get(clark(NS.C, 'calendar-user-address-set'));
  const addresses = set
    ? Array.from(set.getElementsByTagNameNS(NS.D, 'href'), (e) => (e.textContent ?? '').trim())
    : [];
  return { href, addresses };
}

/** The messages in the inbox that the page shows: requests, cancellations and replies. */
export async function listInvitations(dav: DavClient, inbox: Inbox): Promise<Invitation[]> {
  const own = new URL(inbox.href, location.href).pathname;
  const items = (await dav.propfind(inbox.href, '1', ['<D:getetag/>'])).filter(
    (r) => new URL(r.href, location.href).pathname !== own,
  );
  const found: { href: string; message: ItipMessage }[] = [];
  for (const item of items) {
    let text: string;
    try {
      text = await (await dav.request('GET', item.href)).text();
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) continue; // answered meanwhile
      throw e;
    }
    const message = parseItip(text);
    if (message !== null && ['REQUEST', 'CANCEL', 'REPLY'].includes(message.method))
      found.push({ href: item.href, message });
  }
  // One entry per object (or instance): the newest request or cancellation stands for the older ones.
  const groups = new Map<string, { href: string; message: ItipMessage }[]>();
  for (const f of found) {
    const m = f.message;
    const key = m.method === 'REPLY' ? `reply ${f.href}` : `${m.uid}\n${m.recurrenceId?.value ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const out: Invitation[] = [];
  for (const group of groups.values()) {
    let newest = group[0];
    for (const g of group) {
      if (newest === undefined || isNewer(g.message, newest.message)) newest = g;
      // Sent at the same time: the cancellation is the later word.
      else if (!isNewer(newest.message, g.message) && g.message.method === 'CANCEL') newest = g;
    }
    if (newest === undefined) continue;
    const older = group.filter((g) => g !== newest).map((g) => g.href);
    out.push({ href: newest.href, message: newest.message, older });
  }
  return out.sort((a, b) => (a.message.start?.value ?? '').localeCompare(b.message.start?.value ?? ''));
}

function uidQuery(component: string, uid: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<C:calendar-query ${XMLNS}>` +
    '<D:prop><D:getetag/><C:calendar-data/></D:prop>' +
    `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="${escapeXml(component)}">` +
    `<C:prop-filter name="UID"><C:text-match collation="i;octet">${escapeXml(uid)}</C:text-match>` +
    '</C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
  );
}

interface Copy {
  readonly href: string;
  readonly etag: string | null;
  readonly text: string;
}

/** The user's own copy of the invitation: the item with its UID in one of their calendars. */
async function findCopy(
  dav: DavClient,
  calendars: readonly Collection[],
  m: ItipMessage,
): Promise<Copy | null> {
  for (const c of calendars) {
    if (c.kind !== 'calendar') continue;
    let responses;
    try {
      const res = await dav.request('REPORT', c.href, {
        headers: { Depth: '1', 'Content-Type': 'application/xml; charset=utf-8' },
        body: uidQuery(m.component, m.uid),
      });
      responses = parseMultistatus(await res.text());
    } catch (e) {
      // A collection that cannot be searched (a read-only share, a birthday calendar) is skipped.
      if (e instanceof HttpError && e.status !== 401) continue;
      throw e;
    }
    for (const r of responses) {
      const text = r.props.get(clark(NS.C, 'calendar-data'))?.textContent ?? '';
      if (text === '') continue;
      const etag = r.props.get(clark(NS.D, 'getetag'))?.textContent?.trim() ?? null;
      return { href: r.href, etag, text };
    }
  }
  return null;
}

/** Answers an invitation: PUT of the user's copy with the new PARTSTAT, then DELETE of the message. */
export async function answerInvitation(
  dav: DavClient,
  inbox: Inbox,
  calendars: readonly Collection[],
  inv: Invitation,
  partstat: PartStat,
): Promise<void> {
  const copy = await findCopy(dav, calendars, inv.message);
  if (copy === null) throw new Error('The event is not in any of your calendars.');
  const changed = setPartstat(copy.text, inbox.addresses, partstat, inv.message.recurrenceId?.value ?? null);
  if (changed === null)
    throw new Error(
      inv.message.recurrenceId !== null
        ? 'This occurrence is not in your copy of the event, or you are not one of its attendees.'
        : 'You are not one of the attendees of this event.',
    );
  await dav.request('PUT', copy.href, {
    headers: {
      'Content-Type': 'text/calendar; charset=utf-8',
      ...(copy.etag !== null ? { 'If-Match': copy.etag } : {}),
    },
    body: changed,
  });
  await dismissInvitation(dav, inv);
}

export async function dismissInvitation(dav: DavClient, inv: Invitation): Promise<void> {
  for (const href of [inv.href, ...inv.older]) {
    try {
      await dav.request('DELETE', href);
    } catch (e) {
      if (!(e instanceof HttpError && e.status === 404)) throw e;
    }
  }
}

// ---- rendering ------------------------------------------------------------------------------------

export interface InvitationActions {
  answer(inv: Invitation, partstat: PartStat, label: string): void;
  dismiss(inv: Invitation, label: string): void;
}

function button(label: string, ariaLabel: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = h('button', { type: 'button', class: `button ${cls}`, 'aria-label': ariaLabel }, label);
  b.addEventListener('click', onClick);
  return b;
}

function myPartstat(inv: Invitation, addresses: readonly string[]): string | null {
  const mine = new Set(addresses.map(normalizeAddress));
  return inv.message.attendees.find((a) => mine.has(normalizeAddress(a.address)))?.partstat ?? null;
}

const ANSWER_LABELS: Record<string, string> = {
  ACCEPTED: 'Accepted',
  TENTATIVE: 'Tentative',
  DECLINED: 'Declined',
};

export function invitationItem(inv: Invitation, inbox: Inbox, act: InvitationActions): HTMLLIElement {
  const m = inv.message;
  const title = m.summary !== '' ? m.summary : '(no title)';
  const when = m.recurrenceId ?? m.start;
  const details: (string | null)[] = [
    when === null ? null : formatWhen(when),
    m.location !== '' ? m.location : null,
  ];
  const body: (Node | string | false)[] = [];
  let actions: HTMLButtonElement[];
  if (m.method === 'REPLY') {
    const who = m.attendees[0];
    body.push(
      h(
        'p',
        { class: 'kind' },
        `${who ? personLabel(who) : 'An attendee'} ${partstatVerb(who?.partstat ?? '')}`,
      ),
    );
    actions = [
      button('Dismiss', `Dismiss the answer about ${title}`, 'secondary', () => act.dismiss(inv, title)),
    ];
  } else if (m.method === 'CANCEL') {
    body.push(h('p', { class: 'kind cancelled' }, 'Cancelled'));
    if (m.organizer) body.push(h('p', { class: 'meta' }, `Organizer: ${personLabel(m.organizer)}`));
    actions = [
      button('Dismiss', `Dismiss the cancellation of ${title}`, 'secondary', () => act.dismiss(inv, title)),
    ];
  } else {
    if (m.organizer) body.push(h('p', { class: 'kind' }, `From ${personLabel(m.organizer)}`));
    const current = myPartstat(inv, inbox.addresses);
    const answered = current !== null ? ANSWER_LABELS[current] : undefined;
    if (answered !== undefined) body.push(h('p', { class: 'meta' }, `Your answer: ${answered}`));
    actions = [
      button('Accept', `Accept ${title}`, 'primary', () => act.answer(inv, 'ACCEPTED', title)),
      button('Tentative', `Tentatively accept ${title}`, 'secondary', () =>
        act.answer(inv, 'TENTATIVE', title),
      ),
      button('Decline', `Decline ${title}`, 'danger-outline', () => act.answer(inv, 'DECLINED', title)),
    ];
  }
  return h(
    'li',
    { class: 'invitation card', 'data-href': inv.href, 'data-method': m.method },
    h('h3', { class: 'name' }, title),
    ...body,
    ...details.filter((d): d is string => d !== null).map((d) => h('p', { class: 'meta' }, d)),
    h('div', { class: 'card-actions' }, ...actions),
  );
}
