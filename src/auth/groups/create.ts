/** Builds the [group] source. */
import type { Logger } from 'pino';
import { loadPluginFactory } from '../../config/plugin.js';
import type { Config } from '../../config/schema.js';
import { createHtgroupSource } from './htgroup.js';
import type { GroupSource } from './types.js';

const NO_GROUPS: ReadonlySet<string> = new Set();

export async function createGroupSource(config: Config, log: Logger): Promise<GroupSource> {
  switch (config.group.type) {
    case 'none':
      return { groupsOf: () => Promise.resolve(NO_GROUPS) };
    case 'from_auth':
      return { groupsOf: (_user, fromAuth) => Promise.resolve(new Set(fromAuth)) };
    case 'htgroup':
      return createHtgroupSource(
        config.group.htgroup_filename,
        config.group.htgroup_cache,
        log,
        config.encoding.stock,
      );
    default:
      return loadGroupPlugin(config.group.type, config, log);
  }
}

async function loadGroupPlugin(modulePath: string, config: Config, log: Logger): Promise<GroupSource> {
  const createGroups = await loadPluginFactory('group', modulePath, 'createGroups');
  return (await (createGroups as (c: Config, l: Logger) => Promise<GroupSource>)(
    config,
    log,
  )) satisfies GroupSource;
}
