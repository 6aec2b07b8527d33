/** The storage contract on the PostgreSQL backend: a fresh database of a private cluster per scenario. */
import { pino } from 'pino';
import { PostgresBackend } from '../../src/storage/postgres/storage.js';
import { checkedStorage } from '../../src/storage/checked-storage.js';
import { storageContract } from '../contract/storage-contract.js';
import { createTestDatabase, dropTestDatabase, requirePostgres } from '../helpers/postgres.js';

storageContract(
  'postgresql',
  async (settings) => {
    const url = await createTestDatabase();
    const storage = checkedStorage(
      new PostgresBackend({
        url,
        poolSize: 4,
        hook: '',
        hookCwd: process.cwd(),
        maxResourceSize: settings.maxResourceSize,
        maxSyncTokenAge: settings.maxSyncTokenAge,
        describe: settings.describe,
        log: pino({ level: 'silent' }),
      }),
    );
    await storage.open();
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        await dropTestDatabase(url);
      },
    };
  },
  { available: requirePostgres },
);
