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

const base = davBaseFromPath(location.pathname);
let session: Session | null = null;
let external = false;

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
async function readClientConfig(): Promise<{ externalAuth: boolean; browserLogin: boolean }> {
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    const data: unknown = await res.json();
    const flag = (name: string): boolean =>
      typeof data === 'object' &&
      data !== null &&
      name in data &&
      (data as Record<string, unknown>)[name] === true;
    return { externalAuth: flag('externalAuth'), browserLogin: flag('browserLogin') };
  } catch {
    return { externalAuth: false, browserLogin: false };
  }
}

async function boot(): Promise<void> {
  initDialogs();
  wireControls();
  const config = await readClientConfig();
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
  byId('collection-list', HTMLUListElement).replaceChildren();
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
  show('collections');
  await refresh('');
  byId('collections-title', HTMLHeadingElement).focus();
}

async function refresh(message: string): Promise<void> {
  const s = session;
  if (s === null) return;
  try {
    const list = await listCollections(s.dav, s.principal);
    renderList(s, list);
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
  byId('collection-list', HTMLUListElement).replaceChildren(...list.map((c, i) => card(s, c, i)));
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
  const actions = [
    button('Edit', `Edit ${c.name}`, 'secondary', () => openEditDialog(s, c)),
    c.kind !== 'subscription' &&
      button('Upload', `Upload into ${c.name}`, 'secondary', () => openUploadDialog(s, c)),
    c.kind !== 'subscription' &&
      button('Download', `Download ${c.name}`, 'secondary', () => void download(s, c)),
    button('Delete', `Delete ${c.name}`, 'danger-outline', () => openDeleteDialog(s, c)),
  ];
  return h(
    'li',
    { class: 'collection card', 'data-href': c.href },
    h(
      'div',
      { class: 'collection-head' },
      swatch,
      h('div', {}, h('h2', { class: 'name' }, c.name), h('p', { class: 'kind' }, kindLabel(c))),
    ),
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
