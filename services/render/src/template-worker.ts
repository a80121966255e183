// A template worker thread: parses and executes off render's event loop, with its own parse cache.
import { parentPort, workerData } from 'node:worker_threads';
import { TemplateCache, type TemplateCacheLimits } from './template-cache';
import { type TemplateJob, runTemplateJob, workerStats } from './template-jobs';
import type { WorkerRequest } from './template-pool';

const port = parentPort!;
const cache = new TemplateCache(workerData as TemplateCacheLimits);

port.on('message', ({ job, budgetMs }: WorkerRequest) => {
  const outcome = runTemplateJob(cache, { ...job, deadline: Date.now() + budgetMs } as TemplateJob);
  port.postMessage({ outcome, stats: workerStats(cache) });
});
port.postMessage({ stats: workerStats(cache) });
