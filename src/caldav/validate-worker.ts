/** Worker thread: validates one big calendar object of a PUT (see plugin.ts). */
import { serveWorkerTask } from '../dav/worker-task.js';
import { validateCalendarObject } from './item.js';

type Task = { text: string; opts: Parameters<typeof validateCalendarObject>[1] };

serveWorkerTask((task: Task) => validateCalendarObject(task.text, task.opts));
