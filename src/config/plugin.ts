/**
 * Loading the module a `type` option names when it is not one of the built-in backends. Radicale
 * imports any such value as a Python module; Almanac imports it as a JavaScript module (a path, a
 * `file:` URL or an installed package name). A value that loads nothing is a start-up error that says
 * what Almanac looked for, which built-in types exist (with the closest one when it looks like a typo),
 * and that a Radicale (Python) plugin cannot run here; nothing else is silently used instead.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SCHEMA, type SectionName } from './schema.js';

export class PluginError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PluginError';
  }
}

/** The built-in values of a section's `type`. */
export function builtinTypes(section: SectionName): readonly string[] {
  const spec = (SCHEMA[section] as { type?: { choices?: readonly string[] } }).type;
  return spec?.choices ?? [];
}

/** What `import()` is given for a `type` value: a file URL for paths, the value itself otherwise. */
export function moduleTarget(spec: string): string {
  if (spec.startsWith('file:')) return spec;
  return spec.startsWith('.') || isAbsolute(spec) ? pathToFileURL(resolve(spec)).href : spec;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The built-in type a misspelt value probably meant, if one is close. */
export function closestBuiltin(section: SectionName, value: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const choice of builtinTypes(section)) {
    const d = editDistance(value.toLowerCase(), choice.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [choice, d];
  }
  return best;
}

/** The start-up error for a `type` whose module cannot be imported. */
export function unloadableType(
  section: SectionName,
  spec: string,
  reason: string,
  cause?: unknown,
): PluginError {
  const guess = closestBuiltin(section, spec);
  const builtins = builtinTypes(section).join(', ');
  const lines = [
    `[${section}] type = ${spec}: cannot load the plugin module (${reason}).`,
    guess !== undefined ? `Did you mean '${guess}'? ` : '',
    `Almanac's built-in types are: ${builtins}; any other value is imported as a JavaScript module ` +
      '(a file path or an installed package). A Radicale plugin is a Python module and cannot run in ' +
      'Almanac.',
  ];
  return new PluginError(lines.join(' ').replace(/ {2,}/g, ' '), cause === undefined ? undefined : { cause });
}

/**
 * The start-up error for a `type` of a section where Almanac takes no plugins (storage): only the
 * built-in types can run.
 */
export function noPluginsFor(section: SectionName, spec: string, what: string): PluginError {
  const guess = closestBuiltin(section, spec);
  return new PluginError(
    `[${section}] type = ${spec}: not a ${what} Almanac has` +
      (guess !== undefined ? ` (did you mean '${guess}'?)` : '') +
      `; its ${what}s are: ${builtinTypes(section).join(', ')}. A Radicale ${what} plugin is a Python ` +
      'module and cannot run in Almanac.',
  );
}

/**
 * Imports the plugin module of `[section] type = spec` and returns its `exportName` function, or
 * throws a PluginError that says why.
 */
export async function loadPluginFactory(
  section: SectionName,
  spec: string,
  exportName: string,
): Promise<(...args: never[]) => unknown> {
  if (spec.trim() === '') throw unloadableType(section, spec, 'the value is empty');
  let mod: Record<string, unknown>;
  try {
    mod = (await import(moduleTarget(spec))) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const reason =
      code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT'
        ? 'no such module'
        : String(err);
    throw unloadableType(section, spec, reason, err);
  }
  const factory = mod[exportName];
  if (typeof factory !== 'function') {
    throw new PluginError(`[${section}] type = ${spec}: the module does not export ${exportName}()`);
  }
  return factory as (...args: never[]) => unknown;
}
