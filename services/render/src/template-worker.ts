// A template worker thread: parses and executes off render's event loop, with its own parse cache.
import { parentPort, workerData } from 'node:worker_threads';
import { TemplateCache, type TemplateCacheLimits } from './template-cache';
import { type TemplateJob, runTemplateJob, workerStats } from './template-jobs';

const port = parentPort!;
const cache = new TemplateCache(workerData as TemplateCacheLimits);

port.on('message', (job: TemplateJob) => {
  const outcome = runTemplateJob(cache, job);
  port.postMessage({ outcome, stats: workerStats(cache) });
});
port.postMessage({ stats: workerStats(cache) });
