/**
 * The change-notification seam: one `Change` per completed write, published after the storage
 * call returned (the write is durable), delivered to every subscriber asynchronously, in order per
 * collection. A listener never delays or fails the client's write: the write's request only queues
 * the change; listeners run later, one change at a time per (listener, collection), and what they
 * throw (or reject with) is logged.
 *
 * Users: the `[hook]` plugins (src/notify/hooks/) and WebDAV-Push. Subscribe with
 * `notifier.subscribe(listener, { content: true })` when the listener needs item texts beyond those
 * the write already had in memory (the text an item had before it was replaced or deleted): the
 * storage then reads it before the write, which costs a read per write, so only ask when needed.
 *
 * Published for (see withChangeNotifications in ./storage.ts): PUT of an item (`item-put`), PUT of
 * a whole calendar/address book (`collection-replace`, ONE change listing its items), DELETE of an
 * item or collection, MOVE and COPY of items and collections, MKCOL/MKCALENDAR and principal
 * creation (`collection-create`), PROPPATCH of a collection (`collection-props`). Whatever writes
 * through the storage (WebDAV, the web interface) publishes; `almanac storage` commands do not.
 */
import type { Logger } from 'pino';

export type ChangeKind =
  | 'item-put' // an item created or replaced (PUT)
  | 'item-delete' // an item deleted (DELETE, or the destination an overwriting MOVE/COPY removed)
  | 'item-move' // an item moved: from.collection/from.href → collection/items[0].href
  | 'item-copy' // an item copied: from.collection/from.href → collection/items[0].href
  | 'collection-create' // MKCOL, MKCALENDAR, extended MKCOL, principal and predefined collections
  | 'collection-replace' // a whole collection PUT (created or replaced), one change for all its items
  | 'collection-delete' // a collection deleted with everything inside
  | 'collection-move' // a collection moved/renamed: from.collection → collection
  | 'collection-copy' // a collection copied: from.collection → collection
  | 'collection-props'; // a collection's properties changed (PROPPATCH)

/** One item a change touched. */
export interface ChangedItem {
  /** The item's name in `Change.collection`. */
  readonly href: string;
  /** The item's UID ('' when it has none or it is unknown). */
  readonly uid: string;
  /** Its main component (`VEVENT`, `VTODO`, `VJOURNAL`, `VCARD`; '' for plain files or unknown). */
  readonly component: string;
  /**
   * The new text (CRLF lines), for item-put and collection-replace; absent for deletes, and in a
   * collection-replace when every subscriber said it reads no texts (`SubscribeOptions.noTexts`).
   */
  readonly text?: string;
  /**
   * The text before the change: the replaced item (item-put), the deleted one (item-delete, and each
   * item of collection-delete), the item of the same href in the old collection (collection-replace).
   * Only read when a subscriber asked for `content`; absent when there was none (a new item).
   */
  readonly previousText?: string;
}

export interface Change {
  /** Increases by one with every change this process publishes (listeners may use it to order). */
  readonly seq: number;
  readonly kind: ChangeKind;
  /**
   * The collection changed, as a storage path without slashes (`alice/calendar`; '' = the root). For a
   * move or copy: the destination (the source is in `from`). For an item change: its collection.
   */
  readonly collection: string;
  /** MOVE/COPY: where it came from (`href` for items). */
  readonly from?: { readonly collection: string; readonly href?: string };
  /**
   * The items touched: one for item-put/-delete/-move/-copy; every new item for collection-replace;
   * for collection-delete (and collection-replace's replaced items without a new counterpart, see
   * `removed`) the items the collection held, only when a subscriber asked for `content`.
   */
  readonly items: readonly ChangedItem[];
  /** collection-replace: items of the old collection whose href the new one does not have. */
  readonly removed?: readonly ChangedItem[];
  /** Whether the target was created (item-put, -move, -copy, collection-replace/-move/-copy). */
  readonly created?: boolean;
  /** Who made the change: the login, '' for anonymous; through a share, the share's owner. */
  readonly user: string;
  /**
   * Through a share: the logged-in user (the sharee) who made the change, while `user` is the share's
   * owner (the storage hook runs as the owner, the [hook] notifications name the sharee as Radicale's).
   */
  readonly actor?: string;
  /** The HTTP method (`PUT`, `DELETE`, ...), `NONE` for a change that is not a request's own. */
  readonly method: string;
  /** The request path, percent-decoded, without the proxy prefix (`/alice/calendar/x.ics`); may be ''. */
  readonly requestPath: string;
  /** collection-props: the PROPPATCH request body as the client sent it (UTF-8 text). */
  readonly requestBody?: string;
  /** When the write completed (ms since the epoch). */
  readonly time: number;
}

export type ChangeListener = (change: Change) => void | Promise<void>;

export interface SubscribeOptions {
  /** The listener needs `previousText` (see ChangedItem); costs a storage read per write. */
  readonly content?: boolean;
  /**
   * The listener reads no item texts (WebDAV-Push): when no subscriber does, the change of a
   * whole-collection upload names its items without them, so that the texts of a big import are
   * not held until the change is published.
   */
  readonly noTexts?: boolean;
  /** A name for the log lines about this listener. */
  readonly name?: string;
}

/** What listeners see of the notifier. */
export interface ChangeNotifier {
  /** Registers a listener; returns a function that removes it. */
  subscribe(listener: ChangeListener, options?: SubscribeOptions): () => void;
}

/**
 * Changes queued for one listener that have not been delivered (all collections together): past it a
 * change is dropped for that listener, and the drop counted and logged, so a listener that hangs
 * cannot make memory grow without bound.
 */
export const MAX_PENDING_PER_LISTENER = 10_000;

interface Subscription {
  readonly listener: ChangeListener;
  readonly name: string;
  readonly content: boolean;
  readonly noTexts: boolean;
  /** Per collection: the tail of its delivery chain. */
  readonly chains: Map<string, Promise<void>>;
  pending: number;
  dropped: number;
  active: boolean;
}

/** The notifier the server owns: storage publishes, listeners subscribe. */
export class ChangeHub implements ChangeNotifier {
  private readonly subs: Subscription[] = [];
  private seq = 0;
  private readonly inFlight = new Map<Promise<void>, Subscription>();

  constructor(
    private readonly log: Logger,
    private readonly maxPending = MAX_PENDING_PER_LISTENER,
  ) {}

  subscribe(listener: ChangeListener, options: SubscribeOptions = {}): () => void {
    const sub: Subscription = {
      listener,
      name: options.name ?? (listener.name || 'listener'),
      content: options.content === true,
      noTexts: options.noTexts === true,
      chains: new Map(),
      pending: 0,
      dropped: 0,
      active: true,
    };
    this.subs.push(sub);
    return () => {
      sub.active = false;
      const i = this.subs.indexOf(sub);
      if (i >= 0) this.subs.splice(i, 1);
    };
  }

  /** Whether anyone listens (the storage skips building changes when no one does). */
  get active(): boolean {
    return this.subs.length > 0;
  }

  /** Whether a listener reads the items' new texts (see SubscribeOptions.noTexts). */
  get wantsTexts(): boolean {
    return this.subs.some((s) => !s.noTexts);
  }

  /** Whether a listener asked for the texts items had before a change. */
  get wantsContent(): boolean {
    return this.subs.some((s) => s.content);
  }

  /** Queues a change for every listener; returns at once (never throws). */
  publish(change: Omit<Change, 'seq' | 'time'>): void {
    if (this.subs.length === 0) return;
    this.seq += 1;
    const full: Change = Object.freeze({ ...change, seq: this.seq, time: Date.now() });
    for (const sub of this.subs) this.enqueue(sub, full);
  }

  private enqueue(sub: Subscription, change: Change): void {
    if (sub.pending >= this.maxPending) {
      sub.dropped += 1;
      // One line per power of ten, so a hung listener does not flood the log either.
      if (Number.isInteger(Math.log10(sub.dropped)))
        this.log.warn(
          `change notifications: ${sub.name} is ${sub.pending} changes behind; ${sub.dropped} dropped so far`,
        );
      return;
    }
    sub.pending += 1;
    const key = change.collection;
    // The first change of a chain waits for the next turn of the event loop: the request that made
    // it answers before any listener code runs.
    const prev = sub.chains.get(key) ?? new Promise<void>((resolve) => setImmediate(resolve));
    const next = prev.then(async () => {
      try {
        if (sub.active) await sub.listener(change);
      } catch (err) {
        this.log.error({ err }, `change notifications: ${sub.name} failed on change ${change.seq}`);
      } finally {
        sub.pending -= 1;
      }
    });
    sub.chains.set(key, next);
    this.inFlight.set(next, sub);
    void next.then(() => {
      this.inFlight.delete(next);
      if (sub.chains.get(key) === next) sub.chains.delete(key);
    });
  }

  /**
   * Waits until every change published so far was delivered to the listeners still subscribed (for
   * shutdown and tests), at most `timeoutMs`: a listener that never finishes does not hold up a stop.
   */
  async drain(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    try {
      for (;;) {
        const waiting = [...this.inFlight].filter(([, sub]) => sub.active).map(([p]) => p);
        if (waiting.length === 0) return;
        if ((await Promise.race([Promise.all(waiting), deadline])) === 'late') {
          this.log.warn(`change notifications: ${waiting.length} changes not delivered at stop`);
          return;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
