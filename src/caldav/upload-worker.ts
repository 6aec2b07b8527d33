/** Worker thread: splits one whole-calendar upload and makes its items batch by batch (see upload.ts). */
import { serveWorkerStream } from '../dav/worker-task.js';
import { splitUploadStreamed } from './upload.js';

serveWorkerStream(splitUploadStreamed);
