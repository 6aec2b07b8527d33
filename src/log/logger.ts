/**
 * Logging with pino, using Radicale's level names. Text lines like Radicale's by default
 * (`[2026-11-27 10:00:00 +0000] [pid] [INFO] message`), JSON when ALMANAC_LOG_FORMAT=json.
 * Credentials never reach the log: Authorization values and `password` fields are redacted.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Config } from '../config/schema.js';

/** pino levels for Radicale's names; notice and alert are custom levels between/above pino's own. */
const CUSTOM_LEVELS = { notice: 35, alert: 70 } as const;
export type Logger = PinoLogger<keyof typeof CUSTOM_LEVELS>;

/**
 * The same logger seen as a plain pino Logger (what RequestContext.log declares). It only hides the
 * notice/alert methods from the type; TypeScript cannot relate the two generic instantiations itself.
 */
export function asPinoLogger(log: Logger): PinoLogger {
  return log as unknown as PinoLogger;
}

/**
 * A line at Radicale's notice level (between info and warning). Loggers made by createLogger have the
 * level; a plain pino logger (tests) gets the line at info.
 */
export function logNotice(log: PinoLogger, msg: string): void {
  const notice = (log as unknown as Partial<Logger>).notice;
  if (typeof notice === 'function') notice.call(log, msg);
  else log.info(msg);
}

const PINO_LEVEL: Record<string, string> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  notice: 'notice',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  alert: 'alert',
};

const LABELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  35: 'NOTICE',
  40: 'WARNING',
  50: 'ERROR',
  60: 'CRITICAL',
  70: 'ALERT',
};

const MASK = '***';
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization']);
const COOKIE_HEADERS = new Set(['cookie', 'set-cookie']);

/**
 * A copy of `headers` fit for a log: the credentials of Authorization headers are always replaced (the
 * scheme stays visible), cookies too unless `maskCookies` is false (`[logging] mask_passwords = False`).
 */
export function maskHeaders(
  headers: Readonly<Record<string, string | string[] | number | undefined>>,
  maskCookies = true,
): Record<string, string | string[] | number | undefined> {
  const out: Record<string, string | string[] | number | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (SECRET_HEADERS.has(lower) && typeof value === 'string') {
      const scheme = /^\S+\s/.exec(value)?.[0] ?? '';
      out[name] = `${scheme}${MASK}`;
    } else if (SECRET_HEADERS.has(lower) || (maskCookies && COOKIE_HEADERS.has(lower))) {
      out[name] = MASK;
    } else out[name] = value;
  }
  return out;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `2026-11-27 10:00:00 +0000` in local time, as Radicale prints it. */
export function formatTimestamp(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ` +
    `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** Not repeated as key=value: printed elsewhere in the line, or (status, durationMs) already in the text
 * of the request end line. */
const RESERVED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'err', 'status', 'durationMs']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
}

/** Turns one pino JSON record into a Radicale-like text line. */
export function formatRecord(record: Record<string, unknown>): string {
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  const time = typeof record['time'] === 'number' ? new Date(record['time']) : new Date();
  const pid = typeof record['pid'] === 'number' ? record['pid'] : process.pid;
  const label = LABELS[level] ?? `LEVEL${level}`;
  const reqId = typeof record['reqId'] === 'string' ? ` [${record['reqId']}]` : '';
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  const extras = Object.entries(record)
    .filter(([k]) => !RESERVED.has(k))
    .map(([k, v]) => ` ${k}=${formatValue(v)}`)
    .join('');
  let line = `[${formatTimestamp(time)}] [${pid}] [${label}]${reqId} ${msg}${extras}`;
  const err = record['err'];
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; stack?: unknown };
    line += typeof e.stack === 'string' ? `\n${e.stack}` : ` error=${formatValue(e.message)}`;
  }
  return `${line}\n`;
}

/** A pino destination that prints text lines on `out`. */
export function textDestination(out: { write(s: string): unknown } = process.stderr): DestinationStream {
  return {
    write(chunk: string): void {
      for (const json of chunk.split('\n')) {
        if (json === '') continue;
        try {
          out.write(formatRecord(JSON.parse(json) as Record<string, unknown>));
        } catch {
          out.write(`${json}\n`);
        }
      }
    },
  };
}

export type LogFormat = 'text' | 'json';

/** Radicale's levels at or below debug (trace, debug): the only ones that may show backtraces. */
const DEBUG_LEVELS = new Set(['trace', 'debug']);

/**
 * `[logging] backtrace_on_debug`: as in Radicale, an error's stack is logged only when the level is
 * debug (or trace) and the option is on; otherwise the error's type and message are.
 */
function errSerializer(config: Pick<Config, 'logging'>): (err: unknown) => unknown {
  const backtraces = DEBUG_LEVELS.has(config.logging.level) && config.logging.backtrace_on_debug;
  return (err) => {
    const full = pino.stdSerializers.err(err as Error) as unknown;
    if (backtraces || typeof full !== 'object' || full === null) return full;
    const { stack: _stack, ...rest } = full as Record<string, unknown>;
    return rest;
  };
}

/**
 * The application logger. `dest` defaults to stderr (as Radicale); `format` defaults to
 * ALMANAC_LOG_FORMAT (`json`), else text lines.
 */
export function createLogger(
  config: Pick<Config, 'logging'>,
  dest: { write(s: string): unknown } = process.stderr,
  format: LogFormat = process.env['ALMANAC_LOG_FORMAT'] === 'json' ? 'json' : 'text',
): Logger {
  const destination: DestinationStream =
    format === 'json' ? { write: (s: string): void => void dest.write(s) } : textDestination(dest);
  return pino(
    {
      level: PINO_LEVEL[config.logging.level] ?? 'info',
      customLevels: CUSTOM_LEVELS,
      base: { pid: process.pid },
      serializers: { err: errSerializer(config) },
      redact: {
        paths: [
          'password',
          '*.password',
          'headers.authorization',
          'headers["proxy-authorization"]',
          'headers.Authorization',
        ],
        censor: MASK,
      },
    },
    destination,
  );
}
