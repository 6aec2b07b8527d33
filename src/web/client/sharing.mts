/**
 * Sharing (Radicale 3.8's `/.sharing/v1` API, JSON bodies): what the server allows, the shares the
 * user owns or receives, and the Share dialog (markup in index.html) that creates, disables, enables
 * and removes them.
 */
import { HttpError, type DavClient } from './dav.mjs';
import { byId, errorMessage, h, openDialog, showError, wireCloseButtons } from './dom.mjs';
import { randomUuid } from './ical-split.js';
import type { Collection } from './requests.js';

export interface ShareRow {
  readonly ShareType: 'map' | 'token';
  readonly PathOrToken: string;
  readonly PathMapped: string;
  readonly Conversion: string;
  readonly Owner: string;
  readonly User: string;
  readonly Permissions: string;
  readonly EnabledByOwner: boolean;
  readonly EnabledByUser: boolean;
  readonly HiddenByOwner: boolean;
  readonly HiddenByUser: boolean;
}

export interface SharingInfo {
  readonly byMap: boolean;
  readonly byToken: boolean;
  readonly createMap: boolean;
  readonly createToken: boolean;
}

export interface SharingState {
  readonly info: SharingInfo;
  readonly rows: readonly ShareRow[];
}

type Json = Record<string, unknown>;

async function call(dav: DavClient, base: string, type: string, hook: string, body: Json): Promise<Json> {
  const res = await dav.request('POST', `${base}.sharing/v1/${type}/${hook}`, {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const data: unknown = await res.json();
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new Error('The server sent an unexpected answer.');
  return data as Json;
}

function isRow(v: unknown): v is ShareRow {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    (r.ShareType === 'map' || r.ShareType === 'token') &&
    typeof r.PathOrToken === 'string' &&
    typeof r.PathMapped === 'string' &&
    typeof r.Owner === 'string' &&
    typeof r.User === 'string' &&
    typeof r.Permissions === 'string'
  );
}

/** What the server offers, or null when sharing is off (the API answers 404). */
export async function loadSharing(dav: DavClient, base: string): Promise<SharingState | null> {
  let info: Json;
  try {
    info = await call(dav, base, 'all', 'info', {});
  } catch (e) {
    if (e instanceof HttpError && (e.status === 404 || e.status === 403 || e.status === 405)) return null;
    throw e;
  }
  const flag = (k: string): boolean => info[k] === true;
  const state: SharingInfo = {
    byMap: flag('FeatureEnabledCollectionByMap'),
    byToken: flag('FeatureEnabledCollectionByToken'),
    createMap: flag('FeatureEnabledCollectionByMap') && flag('PermittedCreateCollectionByMap'),
    createToken: flag('FeatureEnabledCollectionByToken') && flag('PermittedCreateCollectionByToken'),
  };
  return { info: state, rows: await listShares(dav, base) };
}

export async function listShares(dav: DavClient, base: string): Promise<ShareRow[]> {
  const answer = await call(dav, base, 'all', 'list', {});
  const content = answer.Content;
  return Array.isArray(content) ? content.filter(isRow) : [];
}

/** A path as the API spells it: without the proxy prefix, decoded. */
export function apiPath(href: string, base: string): string {
  let p = new URL(href, location.href).pathname;
  const prefix = base.replace(/\/$/, '');
  if (prefix !== '' && p.startsWith(`${prefix}/`)) p = p.slice(prefix.length);
  try {
    return decodeURI(p);
  } catch {
    return p;
  }
}

/** The share that a collection of the user's listing is (its PathOrToken), if any. */
export function shareAt(
  state: SharingState | null,
  c: Collection,
  base: string,
  me: string,
): ShareRow | null {
  if (state === null) return null;
  const path = apiPath(c.href, base);
  return state.rows.find((r) => r.ShareType === 'map' && r.User === me && r.PathOrToken === path) ?? null;
}

/** The shares the user made of this collection. */
export function sharesOf(state: SharingState | null, c: Collection, base: string, me: string): ShareRow[] {
  if (state === null) return [];
  const path = apiPath(c.href, base);
  return state.rows.filter((r) => r.Owner === me && r.PathMapped === path);
}

/** Shares others made for the user that are not (yet) in the user's list: the user may add them. */
export function pendingShares(state: SharingState | null, me: string): ShareRow[] {
  if (state === null) return [];
  return state.rows.filter(
    (r) =>
      r.ShareType === 'map' &&
      r.User === me &&
      r.Owner !== me &&
      r.EnabledByOwner &&
      !r.HiddenByOwner &&
      (!r.EnabledByUser || r.HiddenByUser),
  );
}

export const isBday = (r: ShareRow): boolean => r.Conversion === 'bday';

export function accessLabel(r: ShareRow): string {
  if (isBday(r)) return 'birthday calendar';
  return r.Permissions.includes('w') ? 'read and write' : 'read only';
}

/** Adds a share made for the user to their list (the sharee's Enabled and not Hidden). */
export async function acceptShare(dav: DavClient, base: string, r: ShareRow): Promise<void> {
  await call(dav, base, 'map', 'update', { PathOrToken: r.PathOrToken, Enabled: true, Hidden: false });
}

/** Takes a share out of the user's list: their own, deleted; someone else's, disabled and hidden. */
export async function leaveShare(dav: DavClient, base: string, r: ShareRow, me: string): Promise<void> {
  if (r.Owner === me) await call(dav, base, r.ShareType, 'delete', { PathOrToken: r.PathOrToken });
  else await call(dav, base, 'map', 'update', { PathOrToken: r.PathOrToken, Enabled: false, Hidden: true });
}

// ---- the Share dialog -----------------------------------------------------------------------------

export interface ShareContext {
  readonly dav: DavClient;
  readonly base: string;
  readonly user: string;
  readonly state: SharingState;
  /** Reloads the page's list (and the shares), then announces the message. */
  refresh(message: string): Promise<void>;
}

let dialogState: { ctx: ShareContext; target: Collection; changed: boolean } | null = null;

const el = {
  dialog: (): HTMLDialogElement => byId('share-dialog', HTMLDialogElement),
  list: (): HTMLUListElement => byId('share-list', HTMLUListElement),
  none: (): HTMLParagraphElement => byId('share-none', HTMLParagraphElement),
  user: (): HTMLInputElement => byId('share-user', HTMLInputElement),
  bday: (): HTMLInputElement => byId('share-bday', HTMLInputElement),
  error: (): HTMLParagraphElement => byId('share-error', HTMLParagraphElement),
  status: (): HTMLParagraphElement => byId('share-status', HTMLParagraphElement),
};

export function initShareDialog(): void {
  const dialog = el.dialog();
  wireCloseButtons(dialog);
  byId('share-user-form', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    void shareWithUser();
  });
  byId('share-link-form', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    void createLink();
  });
  el.bday().addEventListener('change', syncAccess);
  dialog.addEventListener('close', () => {
    const s = dialogState;
    dialogState = null;
    if (s?.changed === true) void s.ctx.refresh(`Sharing of “${s.target.name}” changed.`);
  });
}

function syncAccess(): void {
  // A birthday calendar is read-only.
  const bday = el.bday().checked;
  for (const r of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="share-access"]'))) {
    r.disabled = bday;
    if (bday) r.checked = r.value === 'r';
  }
}

export function openShareDialog(ctx: ShareContext, target: Collection): void {
  dialogState = { ctx, target, changed: false };
  byId('share-title', HTMLHeadingElement).textContent = `Share “${target.name}”`;
  const info = ctx.state.info;
  byId('share-user-form', HTMLFormElement).hidden = !info.createMap;
  byId('share-link-form', HTMLFormElement).hidden = !info.createToken;
  byId('share-bday-row', HTMLLabelElement).hidden = target.kind !== 'addressbook';
  el.user().value = '';
  el.bday().checked = false;
  syncAccess();
  showError(el.error(), null);
  el.status().textContent = '';
  renderShares(ctx.state.rows);
  openDialog(el.dialog(), info.createMap ? el.user() : undefined);
}

function tokenUrl(r: ShareRow): string {
  return new URL(r.PathOrToken, location.href).href;
}

function smallButton(label: string, aria: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = h('button', { type: 'button', class: `button ${cls}`, 'aria-label': aria }, label);
  b.addEventListener('click', onClick);
  return b;
}

function shareState(r: ShareRow): string {
  if (!r.EnabledByOwner) return 'disabled';
  if (r.ShareType === 'map' && r.User !== r.Owner && (!r.EnabledByUser || r.HiddenByUser))
    return `not added by ${r.User} yet`;
  return 'active';
}

function renderShares(rows: readonly ShareRow[]): void {
  const s = dialogState;
  if (s === null) return;
  const mine = rows.filter(
    (r) => r.Owner === s.ctx.user && r.PathMapped === apiPath(s.target.href, s.ctx.base),
  );
  el.none().hidden = mine.length > 0;
  el.list().replaceChildren(
    ...mine.map((r, i) => {
      const who = r.ShareType === 'token' ? 'Link' : r.User;
      const toggle = r.EnabledByOwner
        ? smallButton('Disable', `Disable the share with ${who}`, 'secondary', () => void act(r, 'disable'))
        : smallButton('Enable', `Enable the share with ${who}`, 'secondary', () => void act(r, 'enable'));
      const remove = smallButton(
        'Remove',
        `Remove the share with ${who}`,
        'danger-outline',
        () => void act(r, 'delete'),
      );
      let link: HTMLElement | false = false;
      if (r.ShareType === 'token') {
        const id = `share-link-${i}`;
        const input = h('input', { id, class: 'url', readonly: '', value: tokenUrl(r), spellcheck: 'false' });
        link = h(
          'div',
          { class: 'url-row' },
          h('label', { for: id, class: 'visually-hidden' }, 'Link address'),
          input,
          smallButton('Copy', 'Copy the link', 'secondary', () => void copyLink(input)),
        );
      }
      return h(
        'li',
        { class: 'share-row', 'data-share': r.PathOrToken },
        h(
          'p',
          { class: 'share-who' },
          h('strong', {}, r.ShareType === 'token' ? 'Link' : r.User),
          ` · ${accessLabel(r)} · ${shareState(r)}`,
        ),
        link,
        h('div', { class: 'share-actions' }, toggle, remove),
      );
    }),
  );
}

async function copyLink(input: HTMLInputElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(input.value);
    el.status().textContent = 'Copied the link.';
  } catch {
    input.focus();
    input.select();
    el.status().textContent = 'Press Ctrl+C (or ⌘C) to copy the selected link.';
  }
}

async function reload(message: string): Promise<void> {
  const s = dialogState;
  if (s === null) return;
  s.changed = true;
  const rows = await listShares(s.ctx.dav, s.ctx.base);
  renderShares(rows);
  el.status().textContent = message;
}

async function act(r: ShareRow, hook: 'enable' | 'disable' | 'delete'): Promise<void> {
  const s = dialogState;
  if (s === null) return;
  showError(el.error(), null);
  try {
    await call(s.ctx.dav, s.ctx.base, r.ShareType, hook, { PathOrToken: r.PathOrToken });
    const who = r.ShareType === 'token' ? 'the link' : r.User;
    const done = hook === 'delete' ? 'Removed' : hook === 'enable' ? 'Enabled' : 'Disabled';
    await reload(`${done} the share with ${who}.`);
    // Focus stays in the dialog when the row (and its button) is gone.
    if (hook === 'delete') el.dialog().querySelector<HTMLElement>('h2')?.focus();
  } catch (e) {
    showError(el.error(), `Could not change the share: ${errorMessage(e)}`);
  }
}

async function shareWithUser(): Promise<void> {
  const s = dialogState;
  if (s === null) return;
  const user = el.user().value.trim();
  if (user === '' || user.includes('/')) {
    showError(el.error(), 'Enter a user name, or :group for the members of a group.');
    el.user().focus();
    return;
  }
  const access = document.querySelector<HTMLInputElement>('input[name="share-access"]:checked')?.value ?? 'r';
  const bday = s.target.kind === 'addressbook' && el.bday().checked;
  const group = user.startsWith(':') || user.startsWith('@');
  // Where the share appears for its user: a new name in their home ({user} for each member of a group).
  // The API takes paths as stored (decoded), as Radicale's share database holds them.
  const home = group ? '{user}' : user;
  const body: Json = {
    PathMapped: apiPath(s.target.href, s.ctx.base),
    PathOrToken: `/${home}/${randomUuid()}/`,
    User: user,
    Permissions: bday ? 'r' : access === 'rw' ? 'rw' : 'r',
    Enabled: true,
    Hidden: false,
  };
  if (bday) body.Conversion = 'bday';
  showError(el.error(), null);
  const submit = byId('share-user-submit', HTMLButtonElement);
  submit.disabled = true;
  try {
    await call(s.ctx.dav, s.ctx.base, 'map', 'create', body);
    el.user().value = '';
    await reload(`Shared with ${user}.`);
  } catch (e) {
    const msg =
      e instanceof HttpError && e.status === 403
        ? `Could not share with ${user}: not permitted (does the user exist?).`
        : e instanceof HttpError && e.status === 409
          ? `“${s.target.name}” is already shared with ${user}.`
          : `Could not share: ${errorMessage(e)}`;
    showError(el.error(), msg);
  } finally {
    submit.disabled = false;
  }
}

async function createLink(): Promise<void> {
  const s = dialogState;
  if (s === null) return;
  showError(el.error(), null);
  const submit = byId('share-link-submit', HTMLButtonElement);
  submit.disabled = true;
  try {
    await call(s.ctx.dav, s.ctx.base, 'token', 'create', {
      PathMapped: apiPath(s.target.href, s.ctx.base),
      Permissions: 'r',
      Enabled: true,
      Hidden: false,
    });
    await reload('Created a link. Anyone who has it can read the collection.');
    el.list().querySelector<HTMLInputElement>('li:last-child input.url')?.select();
  } catch (e) {
    showError(el.error(), `Could not create a link: ${errorMessage(e)}`);
  } finally {
    submit.disabled = false;
  }
}
