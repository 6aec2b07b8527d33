/**
 * Python `re` patterns (as written in Radicale rights files) compiled to JS RegExp with `re.fullmatch`
 * semantics (or `re.search`, for `[logging] *_on_notice_condition`). Translated: named groups `(?P<n>…)`, backreferences `(?P=n)`, `\A` and `\Z`, and leading
 * inline flags `(?i)`, `(?s)`, `(?m)`. Anything JS cannot parse is reported as an error.
 */

export function compileFullMatch(pattern: string, what: string): RegExp {
  return compilePython(pattern, what, 'fullmatch');
}

/** The same translation with `re.search` semantics: the pattern may match anywhere in the text. */
export function compileSearch(pattern: string, what: string): RegExp {
  return compilePython(pattern, what, 'search');
}

function compilePython(pattern: string, what: string, mode: 'fullmatch' | 'search'): RegExp {
  let source = pattern;
  let flags = '';
  const inline = /^\(\?([a-zA-Z]+)\)/.exec(source);
  if (inline !== null) {
    for (const f of inline[1] ?? '') {
      if (f === 'i' || f === 's' || f === 'm') flags += flags.includes(f) ? '' : f;
      else if (f !== 'u') throw new Error(`${what}: inline flag (?${f}) is not supported`);
    }
    source = source.slice(inline[0].length);
  }
  source = source
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2^')
    .replace(/(^|[^\\])((?:\\\\)*)\\Z/g, '$1$2$');
  try {
    return new RegExp(mode === 'fullmatch' ? `^(?:${source})$` : source, flags);
  } catch (err) {
    throw new Error(`${what}: invalid regular expression ${JSON.stringify(pattern)}: ${String(err)}`, {
      cause: err,
    });
  }
}

/** Number of capture groups of a compiled regex. */
export function groupCount(re: RegExp): number {
  return (new RegExp(`${re.source}|`, re.flags).exec('')?.length ?? 1) - 1;
}

/** Escapes every regex metacharacter, like Python's re.escape (guards against "regex injection"). */
export function escapeRegex(value: string): string {
  return value
    .replace(/[.*+?^${}()|[\]\\/\-&~# ]/g, '\\$&')
    .replace(/\t/g, '\\t')
    .replace(/\n/g, '\\n');
}
