/**
 * Failed-login timing (Radicale BaseAuth.login and the `delay` option): every failure is held back by
 * `delay` × U(0.5, 1.5), plus padding up to the slowest failure seen so far, so that an unknown user (fast)
 * and a wrong password (slow hash) cannot be told apart by timing.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';

/** Padding is capped so one backend timeout does not make every later failure wait that long. */
const MAX_PADDING_MS = 10_000;

export class FailureDelay {
  private slowestFailureMs = 0;

  constructor(
    private readonly delaySeconds: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** `delay` × U(0.5, 1.5) in milliseconds. */
  randomDelayMs(): number {
    if (!(this.delaySeconds > 0)) return 0;
    return Math.round(this.delaySeconds * 1000 * (0.5 + this.random()));
  }

  /** The delay for a failure whose backend work took `elapsedMs`. */
  afterFailure(elapsedMs: number): number {
    const elapsed = Math.min(Math.max(0, elapsedMs), MAX_PADDING_MS);
    this.slowestFailureMs = Math.max(this.slowestFailureMs, elapsed);
    return this.slowestFailureMs - elapsed + this.randomDelayMs();
  }
}

/** Wait `ms` on a timer (never blocks the event loop). */
export async function sleep(ms: number): Promise<void> {
  if (ms > 0) await sleepTimer(ms);
}
