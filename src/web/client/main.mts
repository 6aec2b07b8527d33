/**
 * Entry point of the web interface: login, logout and the list of collections. Everything goes
 * through the DAV API at the server root, found from the page's own path so a proxy prefix works.
 */
import { listCollections } from './collections.mjs';
import { DavClient, HttpError } from './dav.mjs';
import { davBaseFromPath, formatBytes, kindLabel, type Collection } from './requests.js';
import { initDialogs, openDeleteDialog, openEditDialog, openUploadDialog, type Session } from './dialogs.mjs';
import { byId, errorMessage, h, showError } from './dom.mjs';
import { downloadCollection } from './transfer.mjs';
import {
  answerInvitation,
  dismissInvitation,
  findInbox,
  invitationItem,
  listInvitations,
  type Inbox,
  type Invitation,
} from './invitations.mjs';
import type { PartStat } from './itip.js';
import {
  acceptShare,
  accessLabel,
  apiPath,
  initShareDialog,
  isBday,
  leaveShare,
  loadSharing,
  openShareDialog,
  pendingShares,
  shareAt,
  sharesOf,
  type ShareRow,
  type SharingState,
} from './sharing.mjs';

const base = davBaseFromPath(location.pathname);
let session: Session | null = null;
let external = false;

/** What the page knows besides the collections: the user's name on the server, inbox and shares. */
interface Extras {
  me: string;
  inbox: Inbox | null;
  sharing: SharingState | null;
  collections: readonly Collection[];
}
let extras: Extras = { me: '', inbox: null, sharing: null, collections: [] };

function show(view: 'loading' | 'login' | 'collections'): void {
  byId('loading', HTMLParagraphElement).hidden = view !== 'loading';
  byId('login-view', HTMLElement).hidden = view !== 'login';
  byId('collections-view', HTMLElement).hidden = view !== 'collections';
  byId('session', HTMLDivElement).hidden = view !== 'collections';
}

function setStatus(text: string): void {
  byId('status', HTMLParagraphElement).textContent = text;
}

function userFromPrincipal(principal: string): string {
  const segs = principal.split('/').filter((s) => s !== '');
  const last = segs[segs.length - 1] ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** Asks the server whether the page's own credentials (a front proxy's login) already identify a user. */
interface ClientConfig {
  readonly externalAuth: boolean;
  readonly browserLogin: boolean;
  readonly sharing: boolean;
  readonly scheduling: boolean;
}
let features = { sharing: false, scheduling: false };

async function readClientConfig(): Promise<ClientConfig> {
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    const data: unknown = await res.json();
    const flag = (name: string): boolean =>
      typeof data === 'object' &&
      data !== null &&
      name in data &&
      (data as Record<string, unknown>)[name] === true;
    return {
      externalAuth: flag('externalAuth'),
      browserLogin: flag('browserLogin'),
      sharing: flag('sharing'),
      scheduling: flag('scheduling'),
    };
  } catch {
    return { externalAuth: false, browserLogin: false, sharing: false, scheduling: false };
  }
}

async function boot(): Promise<void> {
  initDialogs();
  initShareDialog();
  wireControls();
  const config = await readClientConfig();
  features = { sharing: config.sharing, scheduling: config.scheduling };
  // A front proxy's login, or (prefer_browser_login) the browser's own prompt: the page sends no
  // credentials of its own and the browser answers the server's 401 itself.
  external = config.externalAuth || config.browserLogin;
  if (external) {
    try {
      const dav = new DavClient(null);
      const principal = await dav.principal(base);
      if (principal !== null) {
        await start(dav, principal);
        return;
      }
    } catch {
      // Fall back to the login form.
    }
  }
  showLogin(null);
}

function showLogin(message: string | null): void {
  session = null;
  extras = { me: '', inbox: null, sharing: null, collections: [] };
  byId('collection-list', HTMLUListElement).replaceChildren();
  byId('invitation-list', HTMLUListElement).replaceChildren();
  byId('pending-list', HTMLUListElement).replaceChildren();
  byId('invitations', HTMLElement).hidden = true;
  byId('pending-shares', HTMLElement).hidden = true;
  byId('login-password', HTMLInputElement).value = '';
  showError(byId('login-error', HTMLParagraphElement), message);
  show('login');
  byId('login-user', HTMLInputElement).focus();
}

async function login(): Promise<void> {
  const user = byId('login-user', HTMLInputElement).value.trim();
  const password = byId('login-password', HTMLInputElement).value;
  const error = byId('login-error', HTMLParagraphElement);
  if (user === '') {
    showError(error, 'Enter your username.');
    byId('login-user', HTMLInputElement).focus();
    return;
  }
  const submit = byId('login-submit', HTMLButtonElement);
  submit.disabled = true;
  showError(error, null);
  try {
    const dav = new DavClient({ user, password });
    const principal = await dav.principal(base);
    if (principal === null) throw new Error('The server did not accept the login.');
    await start(dav, principal);
  } catch (e) {
    const msg =
      e instanceof HttpError && (e.status === 401 || e.status === 403)
        ? 'Wrong username or password.'
        : `Could not sign in: ${errorMessage(e)}`;
    showError(error, msg);
    byId('login-password', HTMLInputElement).select();
  } finally {
    submit.disabled = false;
  }
}

async function start(dav: DavClient, principal: string): Promise<void> {
  session = { dav, principal, refresh };
  byId('session-user', HTMLSpanElement).textContent = dav.credentials?.user ?? userFromPrincipal(principal);
  byId('logout', HTMLButtonElement).hidden = external && dav.credentials === null;
  extras = { me: userFromPrincipal(principal), inbox: null, sharing: null, collections: [] };
  // Without [scheduling] the principal has no inbox and the page shows no invitations.
  if (features.scheduling) extras.inbox = await findInbox(dav, principal).catch(() => null);
  show('collections');
  await refresh('');
  byId('collections-title', HTMLHeadingElement).focus();
}

async function refresh(message: string): Promise<void> {
  const s = session;
  if (s === null) return;
  try {
    const [list, sharing] = await Promise.all([
      listCollections(s.dav, s.principal),
      // Sharing off (404) is null; a failing sharing API must not hide the collections.
      features.sharing ? loadSharing(s.dav, base).catch(() => null) : Promise.resolve(null),
    ]);
    extras.sharing = sharing;
    extras.collections = list;
    renderList(s, list);
    renderPending(s);
    await refreshInvitations(s);
    // Announced once the page shows the outcome.
    setStatus(message);
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) {
      showLogin('Your session has expired. Please sign in again.');
      return;
    }
    setStatus(`${message} Could not load the collections: ${errorMessage(e)}`.trim());
  }
}

function renderList(s: Session, list: readonly Collection[]): void {
  byId('empty', HTMLParagraphElement).hidden = list.length > 0;
  const ul = byId('collection-list', HTMLUListElement);
  // A button of a card keeps the focus across the re-render (e.g. Share, after its dialog closed).
  const active = document.activeElement;
  const label =
    active instanceof HTMLButtonElement && ul.contains(active) ? active.getAttribute('aria-label') : null;
  ul.replaceChildren(...list.map((c, i) => card(s, c, i)));
  if (label !== null) {
    const again = Array.from(ul.querySelectorAll('button')).find(
      (b) => b.getAttribute('aria-label') === label,
    );
    again?.focus();
  }
}

async function refreshInvitations(s: Session): Promise<void> {
  const inbox = extras.inbox;
  const section = byId('invitations', HTMLElement);
  if (inbox === null) {
    section.hidden = true;
    return;
  }
  let list: Invitation[];
  try {
    list = await listInvitations(s.dav, inbox);
  } catch (e) {
    setStatus(`Could not load the invitations: ${errorMessage(e)}`);
    return;
  }
  section.hidden = list.length === 0;
  byId('invitation-list', HTMLUListElement).replaceChildren(
    ...list.map((inv) =>
      invitationItem(inv, inbox, {
        answer: (i, partstat, title) => void answer(s, inbox, i, partstat, title),
        dismiss: (i, title) => void dismiss(s, i, title),
      }),
    ),
  );
}

const ANSWERED: Record<PartStat, string> = {
  ACCEPTED: 'Accepted',
  TENTATIVE: 'Tentatively accepted',
  DECLINED: 'Declined',
};

async function answer(
  s: Session,
  inbox: Inbox,
  inv: Invitation,
  partstat: PartStat,
  title: string,
): Promise<void> {
  setStatus(`Answering “${title}”…`);
  try {
    // The user's copy is in one of their own calendars, never in one shared with them.
    const own = extras.collections.filter((c) => shareAt(extras.sharing, c, base, extras.me) === null);
    await answerInvitation(s.dav, inbox, own, inv, partstat);
  } catch (e) {
    setStatus(`Could not answer “${title}”: ${errorMessage(e)}`);
    return;
  }
  await s.refresh(`${ANSWERED[partstat]} “${title}”.`);
  byId('collections-title', HTMLHeadingElement).focus();
}

async function dismiss(s: Session, inv: Invitation, title: string): Promise<void> {
  try {
    await dismissInvitation(s.dav, inv);
  } catch (e) {
    setStatus(`Could not dismiss “${title}”: ${errorMessage(e)}`);
    return;
  }
  await s.refresh(`Dismissed “${title}”.`);
  byId('collections-title', HTMLHeadingElement).focus();
}

function renderPending(s: Session): void {
  const pending = pendingShares(extras.sharing, extras.me);
  byId('pending-shares', HTMLElement).hidden = pending.length === 0;
  byId('pending-list', HTMLUListElement).replaceChildren(
    ...pending.map((r) => {
      const what = isBday(r) ? 'A birthday calendar' : 'A collection';
      return h(
        'li',
        { class: 'pending-share card', 'data-share': r.PathOrToken },
        h('h3', {}, `${what} shared by ${r.Owner}`),
        h('p', { class: 'meta' }, accessLabel(r)),
        h(
          'div',
          { class: 'card-actions' },
          button(
            'Add to my collections',
            `Add the ${isBday(r) ? 'birthday calendar' : 'collection'} shared by ${r.Owner}`,
            'primary',
            () => void addShare(s, r),
          ),
        ),
      );
    }),
  );
}

async function addShare(s: Session, r: ShareRow): Promise<void> {
  try {
    await acceptShare(s.dav, base, r);
  } catch (e) {
    setStatus(`Could not add the share: ${errorMessage(e)}`);
    return;
  }
  await s.refresh(`Added the collection shared by ${r.Owner}.`);
  byId('collections-title', HTMLHeadingElement).focus();
}

async function removeShare(s: Session, c: Collection, r: ShareRow): Promise<void> {
  try {
    await leaveShare(s.dav, base, r, extras.me);
  } catch (e) {
    setStatus(`Could not remove “${c.name}”: ${errorMessage(e)}`);
    return;
  }
  await s.refresh(`Removed “${c.name}” from your collections.`);
  byId('collections-title', HTMLHeadingElement).focus();
}

/** The name of one of the user's own collections, by its API path. */
function ownName(path: string): string | null {
  return extras.collections.find((c) => apiPath(c.href, base) === path)?.name ?? null;
}

function sharedByText(r: ShareRow): string {
  if (r.Owner === extras.me) {
    const from = ownName(r.PathMapped);
    return from === null ? 'Birthdays from an address book' : `Birthdays from “${from}”`;
  }
  return isBday(r) ? `Birthdays shared by ${r.Owner}` : `Shared by ${r.Owner} · ${accessLabel(r)}`;
}

function sharedWithText(rows: readonly ShareRow[]): string {
  const users = rows.filter((r) => r.ShareType === 'map').map((r) => r.User);
  const links = rows.filter((r) => r.ShareType === 'token').length;
  const parts: string[] = [];
  if (users.length > 0) parts.push(`Shared with ${users.join(', ')}`);
  if (links > 0) parts.push(`${links} link${links === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

function metaText(c: Collection): string {
  const parts: string[] = [];
  if (c.count !== null) parts.push(`${c.count} item${c.count === 1 ? '' : 's'}`);
  if (c.size !== null) parts.push(formatBytes(c.size));
  return parts.join(' · ');
}

function button(label: string, ariaLabel: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = h('button', { type: 'button', class: `button ${cls}`, 'aria-label': ariaLabel }, label);
  b.addEventListener('click', onClick);
  return b;
}

function card(s: Session, c: Collection, index: number): HTMLLIElement {
  const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  // CSSOM, not a style attribute: the CSP forbids inline styles.
  if (c.color !== null) swatch.style.setProperty('--swatch', c.color);
  else swatch.classList.add('no-color');
  const url = new URL(c.href, location.href).href;
  const urlId = `collection-url-${index}`;
  const urlInput = h('input', { id: urlId, class: 'url', readonly: '', value: url, spellcheck: 'false' });
  const meta = metaText(c);
  const sharing = extras.sharing;
  // A collection in the user's home that is a share (someone else's, or their own birthday calendar).
  const share = shareAt(sharing, c, base, extras.me);
  const myShares = share === null ? sharesOf(sharing, c, base, extras.me) : [];
  const canShare =
    sharing !== null &&
    share === null &&
    c.kind !== 'subscription' &&
    (sharing.info.createMap || sharing.info.createToken);
  const writable = share !== null && share.Permissions.includes('w') && !isBday(share);
  const actions =
    share !== null
      ? [
          writable && button('Upload', `Upload into ${c.name}`, 'secondary', () => openUploadDialog(s, c)),
          button('Download', `Download ${c.name}`, 'secondary', () => void download(s, c)),
          button(
            'Remove',
            `Remove ${c.name} from my collections`,
            'danger-outline',
            () => void removeShare(s, c, share),
          ),
        ]
      : [
          button('Edit', `Edit ${c.name}`, 'secondary', () => openEditDialog(s, c)),
          c.kind !== 'subscription' &&
            button('Upload', `Upload into ${c.name}`, 'secondary', () => openUploadDialog(s, c)),
          c.kind !== 'subscription' &&
            button('Download', `Download ${c.name}`, 'secondary', () => void download(s, c)),
          canShare &&
            button('Share', `Share ${c.name}`, 'secondary', () =>
              openShareDialog(
                {
                  dav: s.dav,
                  base,
                  user: extras.me,
                  state: sharing,
                  refresh: (m) => s.refresh(m),
                },
                c,
              ),
            ),
          button('Delete', `Delete ${c.name}`, 'danger-outline', () => openDeleteDialog(s, c)),
        ];
  const sharedWith = sharedWithText(myShares);
  return h(
    'li',
    { class: 'collection card', 'data-href': c.href },
    h(
      'div',
      { class: 'collection-head' },
      swatch,
      h('div', {}, h('h2', { class: 'name' }, c.name), h('p', { class: 'kind' }, kindLabel(c))),
    ),
    share !== null && h('p', { class: 'shared-by' }, sharedByText(share)),
    sharedWith !== '' && h('p', { class: 'shared-by' }, sharedWith),
    c.description !== '' && h('p', { class: 'description' }, c.description),
    meta !== '' && h('p', { class: 'meta' }, meta),
    c.kind === 'subscription' && c.source !== '' && h('p', { class: 'source' }, `Source: ${c.source}`),
    h(
      'div',
      { class: 'url-row' },
      h(
        'label',
        { for: urlId, class: 'visually-hidden' },
        `Address of ${c.name} for calendar and contact apps`,
      ),
      urlInput,
      button('Copy', `Copy the address of ${c.name}`, 'secondary', () => void copyUrl(urlInput, c.name)),
    ),
    h('div', { class: 'card-actions' }, ...actions),
  );
}

async function copyUrl(input: HTMLInputElement, name: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // Clipboard API missing (insecure context) or denied: leave the text selected for Ctrl+C.
    input.focus();
    input.select();
    setStatus('Press Ctrl+C (or ⌘C) to copy the selected address.');
    return;
  }
  setStatus(`Copied the address of “${name}”.`);
}

async function download(s: Session, c: Collection): Promise<void> {
  setStatus(`Downloading “${c.name}”…`);
  try {
    await downloadCollection(s.dav, c);
    setStatus(`Downloaded “${c.name}”.`);
  } catch (e) {
    setStatus(`Could not download “${c.name}”: ${errorMessage(e)}`);
  }
}

function wireControls(): void {
  byId('login-form', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    void login();
  });
  byId('logout', HTMLButtonElement).addEventListener('click', () => showLogin(null));
  byId('new-collection', HTMLButtonElement).addEventListener('click', () => {
    if (session !== null) openEditDialog(session, null);
  });
  byId('upload-new', HTMLButtonElement).addEventListener('click', () => {
    if (session !== null) openUploadDialog(session, null);
  });
}

void boot();
