/**
 * A Config for tests: the schema defaults, with per-section overrides given as typed values
 * (`testConfig({ server: { hosts: ['127.0.0.1:0'] } })`).
 */
import { SCHEMA, type Config, type OptionSpec } from '../../src/config/schema.js';

type Sections = Exclude<keyof Config, 'extra' | 'sources'>;
export type ConfigOverrides = { [S in Sections]?: Partial<Config[S]> };

/** Converts a schema default string to its typed value (only the forms the schema defaults use). */
function convertDefault(spec: OptionSpec): unknown {
  const raw = spec.default;
  switch (spec.type) {
    case 'int':
    case 'float':
      return Number(raw);
    case 'bool':
      return /^(1|yes|true|on)$/i.test(raw);
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'json':
      return raw.trim() === '' ? undefined : (JSON.parse(raw) as unknown);
    case 'octal':
      return raw === '' ? undefined : parseInt(raw, 8);
    default:
      return raw;
  }
}

function defaults(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, options] of Object.entries(SCHEMA as Record<string, Record<string, OptionSpec>>)) {
    out[section] = Object.fromEntries(Object.entries(options).map(([k, spec]) => [k, convertDefault(spec)]));
  }
  return out;
}

export function testConfig(overrides: ConfigOverrides = {}): Config {
  const base = defaults();
  for (const [section, values] of Object.entries(overrides)) {
    base[section] = { ...base[section], ...(values as Record<string, unknown>) };
  }
  return { ...base, extra: {}, sources: {} } as unknown as Config;
}
