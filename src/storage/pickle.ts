/**
 * A minimal, safe reader and writer for Python pickles, limited to plain data (str, bytes, int,
 * float, bool, None, list, tuple, dict). Radicale keeps its sync history and sync-token states as
 * pickles; reading them keeps existing clients' tokens valid, writing them lets Radicale take the
 * folder back. Opcodes that import or call anything (GLOBAL, REDUCE, BUILD...) are refused.
 */

export type PickleValue =
  string | number | bigint | boolean | null | Uint8Array | PickleValue[] | Map<PickleKey, PickleValue>;

/** Dict keys we can represent (hashable plain values). */
export type PickleKey = string | number | bigint | boolean | null;

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

const OP = {
  PROTO: 0x80,
  FRAME: 0x95,
  STOP: 0x2e,
  EMPTY_LIST: 0x5d,
  EMPTY_DICT: 0x7d,
  EMPTY_TUPLE: 0x29,
  MARK: 0x28,
  APPEND: 0x61,
  APPENDS: 0x65,
  SETITEM: 0x73,
  SETITEMS: 0x75,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE: 0x58,
  BINUNICODE8: 0x8d,
  MEMOIZE: 0x94,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  TUPLE: 0x74,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  LONG1: 0x8a,
  NONE: 0x4e,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  BINFLOAT: 0x47,
  SHORT_BINBYTES: 0x43,
  BINBYTES: 0x42,
  BINBYTES8: 0x8e,
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the bytes of a pickle; throws PickleError on anything outside plain data. */
class Reader {
  private pos = 0;
  private readonly stack: (PickleValue | typeof MARK_SENTINEL)[] = [];
  private readonly memo = new Map<number, PickleValue>();

  constructor(private readonly buf: Uint8Array) {}

  run(): PickleValue {
    for (;;) {
      const op = this.u8();
      if (op === OP.STOP) return this.pop();
      this.step(op);
    }
  }

  private step(op: number): void {
    switch (op) {
      case OP.PROTO: {
        const proto = this.u8();
        if (proto > 5) throw new PickleError(`unsupported pickle protocol ${proto}`);
        return;
      }
      case OP.FRAME:
        this.take(8);
        return;
      case OP.EMPTY_LIST:
        return this.push([]);
      case OP.EMPTY_DICT:
        return this.push(new Map());
      case OP.EMPTY_TUPLE:
        return this.push([]);
      case OP.MARK:
        this.stack.push(MARK_SENTINEL);
        return;
      case OP.APPEND: {
        const v = this.pop();
        this.list(this.top()).push(v);
        return;
      }
      case OP.APPENDS: {
        const items = this.popMark();
        this.list(this.top()).push(...items);
        return;
      }
      case OP.SETITEM: {
        const v = this.pop();
        const k = this.pop();
        this.setItem(this.top(), k, v);
        return;
      }
      case OP.SETITEMS: {
        const items = this.popMark();
        if (items.length % 2 !== 0) throw new PickleError('odd SETITEMS');
        const d = this.top();
        for (let i = 0; i < items.length; i += 2) this.setItem(d, items[i] ?? null, items[i + 1] ?? null);
        return;
      }
      default:
        return this.stepScalar(op);
    }
  }

  private stepScalar(op: number): void {
    switch (op) {
      case OP.SHORT_BINUNICODE:
        return this.push(this.str(this.u8()));
      case OP.BINUNICODE:
        return this.push(this.str(this.u32()));
      case OP.BINUNICODE8:
        return this.push(this.str(this.u64()));
      case OP.SHORT_BINBYTES:
        return this.push(new Uint8Array(this.take(this.u8())));
      case OP.BINBYTES:
        return this.push(new Uint8Array(this.take(this.u32())));
      case OP.BINBYTES8:
        return this.push(new Uint8Array(this.take(this.u64())));
      case OP.MEMOIZE:
        this.memo.set(this.memo.size, this.peek());
        return;
      case OP.BINPUT:
        this.memo.set(this.u8(), this.peek());
        return;
      case OP.LONG_BINPUT:
        this.memo.set(this.u32(), this.peek());
        return;
      case OP.BINGET:
        return this.push(this.get(this.u8()));
      case OP.LONG_BINGET:
        return this.push(this.get(this.u32()));
      default:
        return this.stepTupleOrNumber(op);
    }
  }

  private stepTupleOrNumber(op: number): void {
    switch (op) {
      case OP.TUPLE1:
        return this.push([this.pop()]);
      case OP.TUPLE2: {
        const b = this.pop();
        return this.push([this.pop(), b]);
      }
      case OP.TUPLE3: {
        const c = this.pop();
        const b = this.pop();
        return this.push([this.pop(), b, c]);
      }
      case OP.TUPLE:
        return this.push(this.popMark());
      case OP.BININT: {
        const b = this.take(4);
        return this.push(new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true));
      }
      case OP.BININT1:
        return this.push(this.u8());
      case OP.BININT2: {
        const b = this.take(2);
        return this.push((b[0] ?? 0) | ((b[1] ?? 0) << 8));
      }
      case OP.LONG1:
        return this.push(this.long(this.take(this.u8())));
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BINFLOAT: {
        const b = this.take(8);
        return this.push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false));
      }
      default:
        throw new PickleError(`refused pickle opcode 0x${op.toString(16)} at ${this.pos - 1}`);
    }
  }

  private long(bytes: Uint8Array): number | bigint {
    if (bytes.length === 0) return 0;
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
    if (((bytes[bytes.length - 1] ?? 0) & 0x80) !== 0) v -= 1n << BigInt(8 * bytes.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private setItem(
    d: PickleValue,
    k: PickleValue | typeof MARK_SENTINEL,
    v: PickleValue | typeof MARK_SENTINEL,
  ): void {
    if (!(d instanceof Map)) throw new PickleError('SETITEM on a non-dict');
    if (k === MARK_SENTINEL || v === MARK_SENTINEL) throw new PickleError('unexpected MARK');
    if (typeof k === 'object' && k !== null) throw new PickleError('unhashable dict key');
    d.set(k, v);
  }

  private list(v: PickleValue): PickleValue[] {
    if (!Array.isArray(v)) throw new PickleError('APPEND on a non-list');
    return v;
  }

  private get(i: number): PickleValue {
    const v = this.memo.get(i);
    if (v === undefined) throw new PickleError(`memo ${i} missing`);
    return v;
  }

  private push(v: PickleValue): void {
    this.stack.push(v);
  }

  private peek(): PickleValue {
    const v = this.stack[this.stack.length - 1];
    if (v === undefined || v === MARK_SENTINEL) throw new PickleError('stack underflow');
    return v;
  }

  private top(): PickleValue {
    return this.peek();
  }

  private pop(): PickleValue {
    const v = this.peek();
    this.stack.pop();
    return v;
  }

  private popMark(): PickleValue[] {
    const at = this.stack.lastIndexOf(MARK_SENTINEL);
    if (at < 0) throw new PickleError('MARK missing');
    const items = this.stack.splice(at) as PickleValue[];
    items.shift();
    return items;
  }

  private u8(): number {
    const v = this.buf[this.pos];
    if (v === undefined) throw new PickleError('truncated pickle');
    this.pos++;
    return v;
  }

  private u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  private u64(): number {
    const b = this.take(8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (v > BigInt(this.buf.length)) throw new PickleError('length beyond pickle');
    return Number(v);
  }

  private take(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new PickleError('truncated pickle');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private str(n: number): string {
    try {
      return utf8.decode(this.take(n));
    } catch (e) {
      if (e instanceof PickleError) throw e;
      throw new PickleError('invalid UTF-8 in pickle string');
    }
  }
}

const MARK_SENTINEL: unique symbol = Symbol('mark');

/** Parses a pickle of plain data. Throws PickleError for anything else. */
export function loadPickle(bytes: Uint8Array): PickleValue {
  return new Reader(bytes).run();
}

/** What the writer handles: what Radicale's history and sync-token files hold. */
export type PickleWritable = string | readonly string[] | ReadonlyMap<string, string>;

/** A growable byte buffer for the pickle writer (one allocation per doubling, not one per opcode). */
class ByteSink {
  private buf = Buffer.allocUnsafe(4096);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  str(s: string): void {
    // At most 3 bytes per UTF-16 unit, plus the longest header (5) and MEMOIZE.
    this.room(s.length * 3 + 6);
    const at = this.length;
    if (s.length < 256 && this.ascii(s, at)) return;
    const n = this.buf.write(s, at + 2, 'utf8');
    if (n < 256) {
      this.buf[at] = OP.SHORT_BINUNICODE;
      this.buf[at + 1] = n;
      this.length = at + 2 + n;
    } else {
      this.buf.copy(this.buf, at + 5, at + 2, at + 2 + n);
      this.buf[at] = OP.BINUNICODE;
      this.buf.writeUInt32LE(n, at + 1);
      this.length = at + 5 + n;
    }
    this.buf[this.length++] = OP.MEMOIZE;
  }

  /**
   * A short ASCII string (hrefs, etags: nearly every string of a sync-token state) copied byte by
   * byte, which beats a native call per string; false (nothing written) for any other character.
   */
  private ascii(s: string, at: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return false;
      buf[at + 2 + i] = c;
    }
    buf[at] = OP.SHORT_BINUNICODE;
    buf[at + 1] = s.length;
    buf[at + 2 + s.length] = OP.MEMOIZE;
    this.length = at + 3 + s.length;
    return true;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Serializes like Python's `pickle.dumps(value)` (protocol 4, one frame) for str, list of str, dict str→str. */
export function dumpPickle(value: PickleWritable): Buffer {
  const body = new ByteSink();
  // Python writes batches of at most 1000 elements, each between MARK and APPENDS/SETITEMS.
  const batches = <T>(
    items: Iterable<T>,
    count: number,
    one: number,
    many: number,
    emit: (x: T) => void,
  ): void => {
    let i = 0;
    for (const x of items) {
      const inBatch = i % 1000;
      const batchSize = Math.min(1000, count - (i - inBatch));
      if (inBatch === 0 && batchSize > 1) body.byte(OP.MARK);
      emit(x);
      i++;
      if (inBatch === batchSize - 1) body.byte(batchSize === 1 ? one : many);
    }
  };
  if (typeof value === 'string') body.str(value);
  else if (Array.isArray(value)) {
    body.byte(OP.EMPTY_LIST);
    body.byte(OP.MEMOIZE);
    const list = value as readonly string[];
    batches(list, list.length, OP.APPEND, OP.APPENDS, (x) => body.str(x));
  } else {
    body.byte(OP.EMPTY_DICT);
    body.byte(OP.MEMOIZE);
    const map = value as ReadonlyMap<string, string>;
    batches(map, map.size, OP.SETITEM, OP.SETITEMS, ([k, v]) => {
      body.str(k);
      body.str(v);
    });
  }
  body.byte(OP.STOP);
  return framed(body.bytes());
}

/** PROTO 4 and, as Python, a FRAME header unless the payload is shorter than 4 bytes. */
function framed(payload: Buffer): Buffer {
  const head = [Buffer.from([OP.PROTO, 4])];
  // Python omits the frame for payloads shorter than 4 bytes.
  if (payload.length >= 4) {
    const frame = Buffer.alloc(9);
    frame[0] = OP.FRAME;
    frame.writeBigUInt64LE(BigInt(payload.length), 1);
    head.push(frame);
  }
  return Buffer.concat([...head, payload]);
}

/** A pickled `[str, str]` (history entry), or undefined if the value has another shape. */
export function asStringPair(v: PickleValue): [string, string] | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [a, b] = v;
  return typeof a === 'string' && typeof b === 'string' ? [a, b] : undefined;
}

/** A pickled dict str→str (sync-token state), or undefined if the value has another shape. */
export function asStringMap(v: PickleValue): Map<string, string> | undefined {
  if (!(v instanceof Map)) return undefined;
  const out = new Map<string, string>();
  for (const [k, x] of v) {
    if (typeof k !== 'string' || typeof x !== 'string') return undefined;
    out.set(k, x);
  }
  return out;
}

/** A value the general writer handles: plain data with tuples marked as such (a share file's tuple). */
export type PickleOut =
  | string
  | number
  | boolean
  | null
  | { readonly tuple: readonly PickleOut[] }
  | ReadonlyMap<string, PickleOut>;

/**
 * Serializes plain data like Python's `pickle.dumps` (protocol 4): str, int (to 64 bits), bool, None,
 * tuples and dicts with str keys. Radicale's sharing "files" backend pickles `("1", {share})`.
 */
export function dumpPickleValue(value: PickleOut): Buffer {
  const body = new ByteSink();
  const emit = (v: PickleOut, depth: number): void => {
    if (depth > 32) throw new PickleError('value nested too deeply');
    if (typeof v === 'string') body.str(v);
    else if (typeof v === 'boolean') body.byte(v ? OP.NEWTRUE : OP.NEWFALSE);
    else if (v === null) body.byte(OP.NONE);
    else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new PickleError(`cannot pickle the number ${v}`);
      if (v >= 0 && v < 256) {
        body.byte(OP.BININT1);
        body.byte(v);
      } else if (v >= 0 && v < 65536) {
        body.byte(OP.BININT2);
        body.byte(v & 0xff);
        body.byte(v >> 8);
      } else if (v >= -0x80000000 && v <= 0x7fffffff) {
        const b = Buffer.alloc(4);
        b.writeInt32LE(v);
        body.byte(OP.BININT);
        for (const x of b) body.byte(x);
      } else {
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(BigInt(v));
        let n = 8; // shortest two's-complement form, as Python's encode_long
        while (
          n > 1 &&
          ((b[n - 1] === 0 && ((b[n - 2] ?? 0) & 0x80) === 0) ||
            (b[n - 1] === 0xff && ((b[n - 2] ?? 0) & 0x80) !== 0))
        )
          n--;
        body.byte(OP.LONG1);
        body.byte(n);
        for (let i = 0; i < n; i++) body.byte(b[i] ?? 0);
      }
    } else if (v instanceof Map) {
      body.byte(OP.EMPTY_DICT);
      body.byte(OP.MEMOIZE);
      const entries = [...(v as ReadonlyMap<string, PickleOut>)];
      for (let i = 0; i < entries.length; i += 1000) {
        const batch = entries.slice(i, i + 1000);
        if (batch.length > 1) body.byte(OP.MARK);
        for (const [k, x] of batch) {
          body.str(k);
          emit(x, depth + 1);
        }
        body.byte(batch.length > 1 ? OP.SETITEMS : OP.SETITEM);
      }
    } else {
      const items = (v as { readonly tuple: readonly PickleOut[] }).tuple;
      if (items.length > 3) body.byte(OP.MARK);
      for (const x of items) emit(x, depth + 1);
      body.byte(
        items.length === 0
          ? OP.EMPTY_TUPLE
          : items.length === 1
            ? OP.TUPLE1
            : items.length === 2
              ? OP.TUPLE2
              : items.length === 3
                ? OP.TUPLE3
                : OP.TUPLE,
      );
      if (items.length > 0) body.byte(OP.MEMOIZE);
    }
  };
  emit(value, 0);
  body.byte(OP.STOP);
  return framed(body.bytes());
}
