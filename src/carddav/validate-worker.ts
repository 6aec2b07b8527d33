/** Worker thread: validates one big vCard of a PUT (see plugin.ts). */
import { serveWorkerTask } from '../dav/worker-task.js';
import { validateVcard } from './item.js';

serveWorkerTask(validateVcard);
