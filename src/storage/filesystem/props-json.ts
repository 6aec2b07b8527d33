/**
 * `.Radicale.props`: Radicale writes it with Python's `json.dump(props, sort_keys=True)`
 * (src/compat/python/json.ts writes it so); read back here, tolerating hand edits.
 */
import { isTag } from '../props.js';

/** Parses `.Radicale.props`; returns the props and the problems found (non-string values are dropped). */
export function parseProps(text: string): { props: Record<string, string>; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { props: {}, problems: ['invalid JSON'] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { props: {}, problems: ['not a JSON object'] };
  const props: Record<string, string> = {};
  const problems: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string') props[k] = v;
    else problems.push(`value of ${k} is not a string`);
  }
  if (props.tag !== undefined && !isTag(props.tag)) problems.push(`bad tag ${JSON.stringify(props.tag)}`);
  return { props, problems };
}
