/** Worker thread: splits one whole-calendar upload (see upload.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { splitUploadNow } from './upload.js';
import { IcalParseError } from './parse.js';

try {
  parentPort?.postMessage({ ok: true, value: splitUploadNow(workerData as string) });
} catch (e) {
  parentPort?.postMessage({
    ok: false,
    parse: e instanceof IcalParseError,
    precondition: e instanceof IcalParseError ? e.precondition : undefined,
    message: e instanceof Error ? e.message : String(e),
  });
}
