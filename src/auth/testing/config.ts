/**
 * A `Config` built from the schema defaults plus overrides, for the auth and rights tests (they must not
 * depend on the INI loader, which is written in parallel). Not used by the server itself.
 */
import pino, { type Logger } from 'pino';
import { SCHEMA, type Config, type OptionSpec } from '../../config/schema.js';

function defaultValue(spec: OptionSpec): unknown {
  const d = spec.default;
  switch (spec.type) {
    case 'int':
    case 'float':
      return Number(d);
    case 'bool':
      return d === 'True';
    case 'list':
      return d === '' ? [] : d.split(',').map((s) => s.trim());
    case 'json':
      return d === '' ? undefined : (JSON.parse(d) as unknown);
    case 'octal':
      return d === '' ? undefined : parseInt(d, 8);
    default:
      return d;
  }
}

export type ConfigOverrides = { readonly [S in keyof Config]?: Partial<Config[S]> };

export function testConfig(overrides: ConfigOverrides = {}): Config {
  const out: Record<string, unknown> = { headers: {}, extra: {}, sources: {} };
  for (const [section, options] of Object.entries(SCHEMA)) {
    const values: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(options as Record<string, OptionSpec>))
      values[name] = defaultValue(spec);
    out[section] = { ...values, ...(overrides as Record<string, object | undefined>)[section] };
  }
  return out as unknown as Config;
}

/** A logger that keeps its lines in memory (tests can look at them). */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(s) });
  return { log, lines };
}
