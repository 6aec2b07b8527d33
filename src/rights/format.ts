/**
 * The subset of Python's str.format() used by Radicale rights files: `{user}`, `{0}`, `{1}`…, `{}`
 * (automatic numbering), and `{{`/`}}` for literal braces. Parsed once at start-up so a stray brace is a
 * start-up error naming the rule rather than a failure on some request.
 */

export type FormatPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'name'; readonly name: string };

export interface FormatTemplate {
  readonly parts: readonly FormatPart[];
  /** Highest positional index used, -1 if none. */
  readonly maxIndex: number;
  readonly names: ReadonlySet<string>;
}

export function parseFormat(template: string, what: string): FormatTemplate {
  const parts: FormatPart[] = [];
  const names = new Set<string>();
  let maxIndex = -1;
  let auto = 0;
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i] ?? '';
    if (c === '}' || c === '{') {
      if (template[i + 1] === c) {
        text += c;
        i++;
        continue;
      }
      if (c === '}') throw new Error(`${what}: single '}' (write '}}' for a literal brace)`);
      const end = template.indexOf('}', i);
      if (end < 0) throw new Error(`${what}: unclosed '{' (write '{{' for a literal brace)`);
      const field = template.slice(i + 1, end);
      if (text !== '') parts.push({ kind: 'text', text });
      text = '';
      if (field === '') {
        parts.push({ kind: 'index', index: auto });
        maxIndex = Math.max(maxIndex, auto++);
      } else if (/^\d+$/.test(field)) {
        const index = Number(field);
        parts.push({ kind: 'index', index });
        maxIndex = Math.max(maxIndex, index);
      } else if (/^[A-Za-z_]\w*$/.test(field)) {
        parts.push({ kind: 'name', name: field });
        names.add(field);
      } else {
        throw new Error(
          `${what}: unsupported format field {${field}} (write '{{' and '}}' for literal braces)`,
        );
      }
      i = end;
      continue;
    }
    text += c;
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return { parts, maxIndex, names };
}

export function applyFormat(
  t: FormatTemplate,
  positional: readonly string[],
  named: Readonly<Record<string, string>>,
): string {
  return t.parts
    .map((p) =>
      p.kind === 'text' ? p.text : p.kind === 'index' ? (positional[p.index] ?? '') : (named[p.name] ?? ''),
    )
    .join('');
}
