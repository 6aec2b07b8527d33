/** Small DOM helpers. Text always goes in as text nodes (never as HTML), so server data cannot inject markup. */

export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing from index.html`);
  return el;
}

type Child = Node | string | null | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Readonly<Record<string, string>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== false) el.append(c);
  return el;
}

export function showError(el: HTMLElement, message: string | null): void {
  el.textContent = message ?? '';
  el.hidden = message === null;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Opens a modal dialog: the browser traps focus inside and Escape closes it; on close, focus goes
 * back to the control that opened it. Buttons marked `data-close` close it.
 */
export function openDialog(dialog: HTMLDialogElement, focus?: HTMLElement): void {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  dialog.addEventListener(
    'close',
    () => {
      if (opener?.isConnected) opener.focus();
      else document.getElementById('main')?.focus();
    },
    { once: true },
  );
  dialog.showModal();
  focus?.focus();
}

export function wireCloseButtons(dialog: HTMLDialogElement): void {
  for (const b of Array.from(dialog.querySelectorAll('[data-close]'))) {
    b.addEventListener('click', () => dialog.close());
  }
}
