/** The create/edit, delete and upload dialogs (their markup is in index.html). */
import { createCollection, deleteCollection, updateCollection } from './collections.mjs';
import type { Collection, CollectionKind, CollectionSpec } from './requests.js';
import type { DavClient } from './dav.mjs';
import { byId, errorMessage, h, openDialog, showError, wireCloseButtons } from './dom.mjs';
import { uploadAsNewCollection, uploadIntoCollection } from './transfer.mjs';

/** What the dialogs need from the logged-in app. */
export interface Session {
  readonly dav: DavClient;
  readonly principal: string;
  /** Reloads the list, then announces the message. */
  refresh(message: string): Promise<void>;
}

export function initDialogs(): void {
  for (const id of ['edit-dialog', 'delete-dialog', 'upload-dialog'])
    wireCloseButtons(byId(id, HTMLDialogElement));
  initEdit();
  initDelete();
  initUpload();
}

// ---- create / edit -------------------------------------------------------------------------------

let editState: { session: Session; existing: Collection | null } | null = null;

const edit = {
  dialog: (): HTMLDialogElement => byId('edit-dialog', HTMLDialogElement),
  form: (): HTMLFormElement => byId('edit-form', HTMLFormElement),
  name: (): HTMLInputElement => byId('edit-name', HTMLInputElement),
  description: (): HTMLTextAreaElement => byId('edit-description', HTMLTextAreaElement),
  color: (): HTMLInputElement => byId('edit-color', HTMLInputElement),
  noColor: (): HTMLInputElement => byId('edit-no-color', HTMLInputElement),
  source: (): HTMLInputElement => byId('edit-source', HTMLInputElement),
  error: (): HTMLElement => byId('edit-error', HTMLElement),
  submit: (): HTMLButtonElement => byId('edit-submit', HTMLButtonElement),
};

function selectedKind(): CollectionKind {
  const checked = edit.form().querySelector<HTMLInputElement>('input[name="kind"]:checked');
  const v = checked?.value;
  return v === 'addressbook' || v === 'subscription' ? v : 'calendar';
}

function componentBoxes(): HTMLInputElement[] {
  return Array.from(edit.form().querySelectorAll<HTMLInputElement>('input[name="component"]'));
}

/** Shows only the fields that apply to the chosen type. */
function syncEditFields(): void {
  const kind = selectedKind();
  byId('edit-components', HTMLFieldSetElement).hidden = kind !== 'calendar';
  byId('edit-source-row', HTMLDivElement).hidden = kind !== 'subscription';
  edit.color().disabled = edit.noColor().checked;
}

export function openEditDialog(session: Session, existing: Collection | null): void {
  editState = { session, existing };
  const isNew = existing === null;
  byId('edit-title', HTMLHeadingElement).textContent = isNew ? 'New collection' : `Edit “${existing.name}”`;
  edit.submit().textContent = isNew ? 'Create' : 'Save';
  const kindInputs = edit.form().querySelectorAll<HTMLInputElement>('input[name="kind"]');
  for (const r of Array.from(kindInputs)) r.checked = r.value === (existing?.kind ?? 'calendar');
  // The type of an existing collection cannot change over DAV.
  byId('edit-type', HTMLFieldSetElement).disabled = !isNew;
  byId('edit-components', HTMLFieldSetElement).disabled = !isNew;
  for (const b of componentBoxes())
    b.checked = existing ? existing.components.includes(b.value) : b.value === 'VEVENT';
  edit.name().value = existing?.name ?? '';
  edit.description().value = existing?.description ?? '';
  edit.color().value = existing?.color ?? '#3b82f6';
  edit.noColor().checked = existing !== null && existing.color === null;
  edit.source().value = existing?.source ?? '';
  showError(edit.error(), null);
  syncEditFields();
  openDialog(edit.dialog(), isNew ? undefined : edit.name());
}

function readSpec(): CollectionSpec | string {
  const kind = selectedKind();
  const components = componentBoxes()
    .filter((b) => b.checked)
    .map((b) => b.value);
  if (kind === 'calendar' && components.length === 0) return 'Choose at least one kind of entry.';
  const source = edit.source().value.trim();
  if (kind === 'subscription' && !/^(https?|webcals?):\/\/\S+$/i.test(source)) {
    return 'Enter the subscription URL (https://… or webcal://…).';
  }
  return {
    kind,
    components,
    name: edit.name().value.trim(),
    description: edit.description().value.trim(),
    color: edit.noColor().checked ? '' : edit.color().value,
    source,
  };
}

function initEdit(): void {
  edit.form().addEventListener('change', syncEditFields);
  edit.form().addEventListener('submit', (ev) => {
    ev.preventDefault();
    void submitEdit();
  });
}

async function submitEdit(): Promise<void> {
  if (editState === null) return;
  const { session, existing } = editState;
  const spec = readSpec();
  if (typeof spec === 'string') {
    showError(edit.error(), spec);
    return;
  }
  edit.submit().disabled = true;
  try {
    if (existing === null) await createCollection(session.dav, session.principal, spec);
    else await updateCollection(session.dav, existing.href, spec);
    edit.dialog().close();
    const label = spec.name || 'Collection';
    await session.refresh(existing === null ? `Created “${label}”.` : `Saved “${label}”.`);
  } catch (e) {
    showError(edit.error(), `Could not save: ${errorMessage(e)}`);
  } finally {
    edit.submit().disabled = false;
  }
}

// ---- delete ---------------------------------------------------------------------------------------

let deleteState: { session: Session; target: Collection } | null = null;

function deleteConfirmed(): boolean {
  const typed = byId('delete-confirm', HTMLInputElement).value.trim();
  return deleteState !== null && typed !== '' && (typed === 'DELETE' || typed === deleteState.target.name);
}

export function openDeleteDialog(session: Session, target: Collection): void {
  deleteState = { session, target };
  byId('delete-title', HTMLHeadingElement).textContent = `Delete “${target.name}”?`;
  const items = target.count === null ? '' : ` and its ${target.count} item${target.count === 1 ? '' : 's'}`;
  byId('delete-text', HTMLParagraphElement).textContent =
    `This permanently deletes the ${target.kind === 'addressbook' ? 'address book' : target.kind} “${target.name}”${items}. It cannot be undone.`;
  byId('delete-confirm-label', HTMLLabelElement).textContent = `Type “${target.name}” or DELETE to confirm`;
  const input = byId('delete-confirm', HTMLInputElement);
  input.value = '';
  byId('delete-submit', HTMLButtonElement).disabled = true;
  showError(byId('delete-error', HTMLElement), null);
  openDialog(byId('delete-dialog', HTMLDialogElement), input);
}

function initDelete(): void {
  byId('delete-confirm', HTMLInputElement).addEventListener('input', () => {
    byId('delete-submit', HTMLButtonElement).disabled = !deleteConfirmed();
  });
  byId('delete-form', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    void submitDelete();
  });
}

async function submitDelete(): Promise<void> {
  if (deleteState === null || !deleteConfirmed()) return;
  const { session, target } = deleteState;
  const button = byId('delete-submit', HTMLButtonElement);
  button.disabled = true;
  try {
    await deleteCollection(session.dav, target.href);
    byId('delete-dialog', HTMLDialogElement).close();
    await session.refresh(`Deleted “${target.name}”.`);
  } catch (e) {
    showError(byId('delete-error', HTMLElement), `Could not delete: ${errorMessage(e)}`);
    button.disabled = false;
  }
}

// ---- upload ---------------------------------------------------------------------------------------

let uploadState: { session: Session; target: Collection | null; busy: boolean } | null = null;

export function openUploadDialog(session: Session, target: Collection | null): void {
  uploadState = { session, target, busy: false };
  byId('upload-title', HTMLHeadingElement).textContent =
    target === null ? 'Upload files' : `Upload into “${target.name}”`;
  byId('upload-text', HTMLParagraphElement).textContent =
    target === null
      ? 'Each file becomes a new calendar or address book.'
      : `Every event or contact in the files is added to “${target.name}” as a new entry.`;
  const input = byId('upload-files', HTMLInputElement);
  input.value = '';
  byId('upload-progress', HTMLUListElement).replaceChildren();
  byId('upload-submit', HTMLButtonElement).disabled = true;
  byId('upload-close', HTMLButtonElement).textContent = 'Cancel';
  openDialog(byId('upload-dialog', HTMLDialogElement), input);
}

function initUpload(): void {
  const input = byId('upload-files', HTMLInputElement);
  input.addEventListener('change', () => {
    byId('upload-submit', HTMLButtonElement).disabled = (input.files?.length ?? 0) === 0;
  });
  byId('upload-form', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    void submitUpload();
  });
  // Closing while requests run would hide their outcome; Escape is ignored until they finish.
  byId('upload-dialog', HTMLDialogElement).addEventListener('cancel', (ev) => {
    if (uploadState?.busy === true) ev.preventDefault();
  });
}

interface FileRow {
  readonly status: HTMLElement;
  readonly bar: HTMLProgressElement;
  readonly row: HTMLLIElement;
}

function fileRow(name: string): FileRow {
  const status = h('span', { class: 'file-status' }, 'Waiting');
  const bar = h('progress', { max: '1', value: '0', 'aria-label': `Progress of ${name}` });
  const row = h('li', { class: 'file-row' }, h('span', { class: 'file-name' }, name), status, bar);
  return { status, bar, row };
}

async function submitUpload(): Promise<void> {
  const state = uploadState;
  const files = Array.from(byId('upload-files', HTMLInputElement).files ?? []);
  if (state === null || files.length === 0 || state.busy) return;
  state.busy = true;
  const submit = byId('upload-submit', HTMLButtonElement);
  const close = byId('upload-close', HTMLButtonElement);
  submit.disabled = true;
  close.disabled = true;
  const list = byId('upload-progress', HTMLUListElement);
  const rows = files.map((f) => fileRow(f.name));
  list.replaceChildren(...rows.map((r) => r.row));
  let failures = 0;
  for (const [i, file] of files.entries()) {
    const r = rows[i] as FileRow;
    const progress = (text: string, done: number, total: number): void => {
      r.status.textContent = text;
      r.bar.max = Math.max(total, 1);
      r.bar.value = done;
    };
    try {
      if (state.target === null) {
        const { count } = await uploadAsNewCollection(
          state.session.dav,
          state.session.principal,
          file,
          progress,
        );
        r.status.textContent = count === null ? 'Done' : `${count} added`;
      } else {
        const res = await uploadIntoCollection(state.session.dav, state.target, file, progress);
        r.status.textContent =
          `${res.added} added` + (res.errors.length > 0 ? `, ${res.errors.length} failed` : '');
        if (res.errors.length > 0) {
          failures++;
          r.row.classList.add('failed');
          r.row.append(
            h('ul', { class: 'file-errors' }, ...res.errors.slice(0, 20).map((e) => h('li', {}, e))),
          );
        }
      }
      r.row.classList.add(r.row.classList.contains('failed') ? 'partial' : 'ok');
    } catch (e) {
      failures++;
      r.row.classList.add('failed');
      r.status.textContent = `Failed: ${errorMessage(e)}`;
    }
  }
  state.busy = false;
  close.disabled = false;
  close.textContent = 'Close';
  close.focus();
  const n = files.length;
  await state.session.refresh(
    failures === 0
      ? `Uploaded ${n} file${n === 1 ? '' : 's'}.`
      : `Uploaded with problems in ${failures} of ${n} files.`,
  );
}
