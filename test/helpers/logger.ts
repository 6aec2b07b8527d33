/** A logger that keeps its lines in memory, so that tests can look at them. */
import pino, { type Logger } from 'pino';

export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(s) });
  return { log, lines };
}
