/** Worker thread: splits one whole-calendar upload (see upload.ts). */
import { serveWorkerTask } from '../dav/worker-task.js';
import { splitUploadChecked } from './upload.js';

serveWorkerTask(splitUploadChecked);
