/** Builds the [rights] backend, adding the permit_delete_collection / permit_overwrite_collection rules. */
import type { Logger } from 'pino';
import { loadPluginFactory } from '../config/plugin.js';
import type { Config } from '../config/schema.js';
import { authenticatedRights, ownerOnlyRights, ownerWriteRights, type LetterFunction } from './builtin.js';
import { loadRightsFile, matchRules } from './from-file.js';
import { stripPath } from './path.js';
import type { Rights } from './types.js';

export async function createRights(config: Config, log: Logger): Promise<Rights> {
  const verifyUser = config.auth.type !== 'none';
  let letters: LetterFunction;
  switch (config.rights.type) {
    case 'authenticated':
      letters = authenticatedRights(verifyUser);
      break;
    case 'owner_only':
      letters = ownerOnlyRights(verifyUser);
      break;
    case 'owner_write':
      letters = ownerWriteRights(verifyUser);
      break;
    case 'from_file': {
      const rules = await loadRightsFile(config.rights.file);
      const debugLog = config.logging.rights_rule_doesnt_match_on_debug ? log : undefined;
      return withCollectionPolicy(
        (user, groups, path) => matchRules(rules, user, groups, path, debugLog),
        config,
      );
    }
    default:
      return loadRightsPlugin(config.rights.type, config, log);
  }
  return withCollectionPolicy((user, _groups, path) => letters(user, path), config);
}

type Authorization = (user: string, groups: ReadonlySet<string>, path: string) => string;

/**
 * D/d and O/o on the collection itself override the global permit_* options: with permit on, `d`/`o`
 * deny; with permit off, only `D`/`O` allow.
 */
export function withCollectionPolicy(authorization: Authorization, config: Config): Rights {
  const { permit_delete_collection: permitDelete, permit_overwrite_collection: permitOverwrite } =
    config.rights;
  const auth: Authorization = (user, groups, path) => authorization(user, groups, stripPath(path));
  return {
    authorization: auth,
    mayDeleteCollection(user, groups, path) {
      const l = auth(user, groups, path);
      return permitDelete ? !l.includes('d') : l.includes('D');
    },
    mayOverwriteCollection(user, groups, path) {
      const l = auth(user, groups, path);
      return permitOverwrite ? !l.includes('o') : l.includes('O');
    },
  };
}

/**
 * A plugin module exports `createRights(config, log)` returning a `Rights`, or an object with just
 * `authorization(user, groups, path)`, which then gets the permit_* handling.
 */
async function loadRightsPlugin(spec: string, config: Config, log: Logger): Promise<Rights> {
  const createRights = await loadPluginFactory('rights', spec, 'createRights');
  const made = (await (createRights as (c: Config, l: Logger) => unknown)(config, log)) as Partial<Rights>;
  const authorization = made.authorization;
  if (typeof authorization !== 'function') throw new Error(`[rights] plugin ${spec}: no authorization()`);
  if (typeof made.mayDeleteCollection === 'function' && typeof made.mayOverwriteCollection === 'function') {
    return made as Rights;
  }
  return withCollectionPolicy((u, g, p) => authorization.call(made, u, g, p), config);
}
