/** The components a calendar collection takes (C:supported-calendar-component-set). */
import type { CollectionInfo } from '../storage/types.js';

export const DEFAULT_COMPONENTS = ['VEVENT', 'VTODO', 'VJOURNAL'];

export function supportedComponents(info: CollectionInfo): string[] {
  const v = info.props['C:supported-calendar-component-set'];
  return v
    ? v
        .split(',')
        .map((s) => s.trim().toUpperCase())
        .filter(Boolean)
    : DEFAULT_COMPONENTS;
}
