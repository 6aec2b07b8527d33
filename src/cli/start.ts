/**
 * The composition root: builds every layer from a configuration and starts the listeners.
 */
import { asPinoLogger, type Logger } from '../log/logger.js';
import type { Config } from '../config/schema.js';
import { almanacVersion } from '../config/version.js';
import { createAuth } from '../auth/create.js';
import { createRights } from '../rights/create.js';
import type { Logger as PinoLogger } from 'pino';
import { join } from 'node:path';
import { createStorage, storageSettings } from '../storage/create.js';
import { DerivedCache, type BytesCache } from '../dav/derived-cache.js';
import { MemoryBytesCache } from '../dav/memory-bytes-cache.js';
import type { CollectionTag, ItemDescription, Storage } from '../storage/types.js';
import { createWeb, webPluginMessage } from '../web/serve.js';
import { combinePlugins, type DavPlugin, type DavPlugins } from '../dav/context.js';
import { CORE_PLUGIN } from '../dav/core-plugin.js';
import { calDavPlugin } from '../caldav/plugin.js';
import { calDavSettings, type CalDavSettings } from '../caldav/settings.js';
import { cardDavPlugin } from '../carddav/plugin.js';
import { cardDavSettings, type CardDavSettings } from '../carddav/settings.js';
import { schedulingPlugin } from '../caldav/scheduling/plugin.js';
import { schedulingSettings } from '../caldav/scheduling/settings.js';
import { createMailer } from '../caldav/scheduling/imip-smtp.js';
import { createApp } from '../http/dispatch.js';
import { createSharing } from '../sharing/service.js';
import { sharingPlugin } from '../sharing/api.js';
import { sharingProtocolsPlugin } from '../sharing/protocols/plugin.js';
import { createMonitoring } from '../http/monitoring.js';
import { startServer, type RunningServer } from '../http/server.js';
import { warnAboutHeaderAuth } from '../http/startup-checks.js';
import { ChangeHub, type ChangeNotifier } from '../notify/changes.js';
import { withChangeNotifications } from '../notify/storage.js';
import { createHook } from '../notify/hooks/create.js';
import { PushService } from '../push/service.js';
import { createPushPlugin } from '../push/plugin.js';

export interface Almanac {
  readonly server: RunningServer;
  readonly storage: Storage;
  /** Change notifications of every write (src/notify/changes.ts): [hook] plugins and push subscribe. */
  readonly notifier: ChangeNotifier;
  close(graceMs?: number): Promise<void>;
}

/** The settings of the plugins every server has, each layer's own, taken from the configuration once. */
export interface PluginSettings {
  readonly caldav: CalDavSettings;
  readonly carddav: CardDavSettings;
}

export function pluginSettings(config: Config): PluginSettings {
  return { caldav: calDavSettings(config), carddav: cardDavSettings(config) };
}

/** The plugins every server has, built from their settings, and those the running server adds. */
export function createPlugins(settings: PluginSettings, extra: readonly DavPlugin[] = []): DavPlugins {
  return combinePlugins([
    CORE_PLUGIN,
    calDavPlugin(settings.caldav),
    cardDavPlugin(settings.carddav),
    ...extra,
  ]);
}

const NO_DESCRIPTION: ItemDescription = { uid: '', component: '', start: 0, end: 0 };

/** The describer the storage uses to index items: by the collection's kind; plain files get none. */
export function describerFor(plugins: DavPlugins): (text: string, tag: CollectionTag) => ItemDescription {
  return (text, tag) => {
    const kind = plugins.byTag(tag);
    return kind ? kind.describe(text) : NO_DESCRIPTION;
  };
}

/** describerFor, for --verify-storage: throws for what Radicale could not load (see verifyItem). */
export function verifierFor(plugins: DavPlugins): (text: string, tag: CollectionTag) => ItemDescription {
  return (text, tag) => {
    const kind = plugins.byTag(tag);
    kind?.verifyItem(text);
    return kind ? kind.describe(text) : NO_DESCRIPTION;
  };
}

export function openStorage(config: Config, log: Logger): Storage {
  const describe = describerFor(createPlugins(pluginSettings(config)));
  return createStorage(storageSettings(config), asPinoLogger(log), describe);
}

/**
 * The export cache lives beside the item index in the data folder. PostgreSQL storage keeps it in
 * memory (64 MiB): several processes may share one database with no shared folder for the files, and
 * a per-process folder under the temporary directory would be left behind, export-sized, by every
 * process that crashed. Either way an entry is keyed by the collection's ETag, read on every GET.
 */
function exportCache(config: Config, log: PinoLogger): BytesCache {
  if (config.storage.type === 'postgresql') return new MemoryBytesCache(64 * 1024 * 1024);
  return new DerivedCache({
    folder: join(config.storage.filesystem_folder, '.Almanac.cache', 'export'),
    generation: almanacVersion(),
    log,
  });
}

export async function startAlmanac(config: Config, log: Logger): Promise<Almanac> {
  const plog = asPinoLogger(log);
  const settings = pluginSettings(config);
  // CalDAV scheduling only with `[scheduling] enabled` (its iMIP mail sent by `mailer`).
  const schedulingSet = config.scheduling.enabled ? schedulingSettings(config) : undefined;
  const mailer = createMailer(schedulingSet, plog);
  const scheduling = schedulingSet ? [schedulingPlugin(schedulingSet, mailer)] : [];
  const plugins = createPlugins(settings, scheduling);
  const notifier = new ChangeHub(plog);
  const storage = withChangeNotifications(
    createStorage(storageSettings(config), plog, describerFor(plugins)),
    notifier,
    plog,
  );
  // Before anything is opened: a bad [monitoring] setting stops the start with nothing to undo.
  const monitoring = createMonitoring(config, storage);
  await storage.open();
  const auth = await createAuth(config, plog);
  const rights = await createRights(config, plog);
  const sharing = await createSharing({ config, storage, rights, plugins, log: plog });
  const web = createWeb(config, { sharing: sharing !== undefined, scheduling: config.scheduling.enabled });
  if (config.web.type !== 'internal' && config.web.type !== 'none')
    log.warn(webPluginMessage(config.web.type));
  const derivedCache = exportCache(config, plog);
  const hook = createHook(config, plog);
  if (hook) notifier.subscribe(hook.listener, { content: hook.needsContent, name: `[hook] ${hook.name}` });
  const push = await PushService.create(config, storage, plog, {
    rights,
    ...(sharing ? { sharing } : {}),
    ...(auth.groups ? { groups: auth.groups } : {}),
  });
  if (push) notifier.subscribe((change) => push.onChange(change), { name: 'WebDAV-Push', noTexts: true });
  const app = createApp({
    config,
    storage,
    auth,
    rights,
    plugins: createPlugins(settings, [
      ...scheduling,
      sharingPlugin(sharing, { config, storage, rights }),
      // The standard sharing protocols (before push: both take XML POSTs to a collection).
      ...(sharing?.byMap
        ? [sharingProtocolsPlugin({ config, storage, rights, store: sharing.store, log: plog })]
        : []),
      ...(push ? [createPushPlugin(push)] : []),
    ]),
    web,
    ...(derivedCache ? { derivedCache } : {}),
    ...(monitoring?.metrics ? { metrics: monitoring.metrics } : {}),
    ...(sharing ? { sharing } : {}),
  });
  /** Closes what start-up opened besides the server, in order: at close, or if the server cannot start. */
  const closeServices = async (): Promise<void> => {
    await hook?.close();
    await push?.close();
    await mailer.close();
    await auth.close();
    await sharing?.close();
    await storage.close();
  };
  let server: RunningServer;
  try {
    server = await startServer(config, app, log, monitoring);
  } catch (err) {
    await closeServices();
    throw err;
  }
  warnAboutHeaderAuth(config, server.addresses, log);
  return {
    server,
    storage,
    notifier,
    close: async (graceMs?: number) => {
      await server.close(graceMs);
      // The changes of the last requests reach their listeners before the listeners stop.
      await notifier.drain();
      await closeServices();
      await derivedCache?.settle();
    },
  };
}
