/** A line reader over a socket for the small text protocols spoken here (IMAP, dovecot auth). */
import type { Socket } from 'node:net';

export class LineSocket {
  private buffer = '';
  private readonly lines: string[] = [];
  private waiter: ((line: string | Error) => void) | undefined;
  private failure: Error | undefined;

  constructor(
    public socket: Socket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  /** Switches to another socket (after STARTTLS); unread bytes of the old one are dropped. */
  replace(socket: Socket): void {
    this.socket.removeAllListeners('data');
    this.buffer = '';
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > 1_000_000) return this.fail(new Error('line too long'));
    let nl;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.push(line);
    }
  }

  private push(line: string): void {
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w(line);
    } else {
      this.lines.push(line);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(err);
  }

  readLine(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolveLine, reject) => {
      const timer = setTimeout(() => this.fail(new Error('timeout')), this.timeoutMs);
      this.waiter = (value) => {
        clearTimeout(timer);
        if (value instanceof Error) reject(value);
        else resolveLine(value);
      };
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}
