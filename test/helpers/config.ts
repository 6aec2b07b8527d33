/**
 * A Config for tests: the defaults as the real loader builds them (no config file read), with per-section
 * overrides given as typed values (`testConfig({ server: { hosts: ['127.0.0.1:0'] } })`).
 */
import { tmpdir } from 'node:os';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

type Sections = Exclude<keyof Config, 'extra' | 'sources'>;
export type ConfigOverrides = { [S in Sections]?: Partial<Config[S]> };

export function testConfig(overrides: ConfigOverrides = {}): Config {
  // `paths: ['']` loads no file; HOME is pinned so `~` in defaults does not depend on the machine.
  const base = loadConfig({ paths: [''], env: { HOME: tmpdir() } }).config;
  const merged: Record<string, unknown> = { ...base };
  const sources: Record<string, string> = { ...base.sources };
  for (const [section, values] of Object.entries(overrides)) {
    merged[section] = { ...(base as unknown as Record<string, object>)[section], ...values };
    // Overridden values count as set, as if they came from a config file.
    for (const option of Object.keys(values)) sources[`${section}.${option}`] = 'test';
  }
  merged.sources = sources;
  return merged as Config;
}
