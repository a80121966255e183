import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FairQueue } from './fair-queue';
import { RenderError, RenderErrorCode } from './render.error';
import { type TemplateCacheLimits, templateDigest } from './template-cache';
import {
  type ExecuteJob,
  type Executed,
  type JobOutcome,
  type ParseJob,
  type Parsed,
  type TemplateJob,
  type WorkerStats,
  failureError,
} from './template-jobs';

/** Parsing and executing templates, for one tenant at a time (see tenantOf in template-renderer.ts). */
export interface TemplateWork {
  parse(tenant: string, job: Omit<ParseJob, 'deadline'>): Promise<Parsed>;
  execute(tenant: string, job: Omit<ExecuteJob, 'deadline'>): Promise<Executed>;
}

export interface TemplatePoolSettings {
  readonly workers: number;
  /** How long the engine may parse or execute one template. */
  readonly deadlineMs: number;
  /** Each worker's old-generation heap limit: running out of it ends that worker, not the process. */
  readonly workerHeapMb: number;
  /** Each worker's own parse cache. */
  readonly cache: TemplateCacheLimits;
  /** Jobs one tenant has on workers at once (pipelined on the workers it holds, at most workers − 1 of them). */
  readonly maxRunningPerTenant: number;
  readonly maxQueuedPerTenant: number;
}

export type WorkerLoss = 'deadline' | 'memory' | 'crash';

/** What the pool reports to the service's metrics. */
export interface TemplatePoolObserver {
  refused(): void;
  workerReplaced(reason: WorkerLoss): void;
}

/** The backstop's margin over the engine's own deadline, which should answer first. */
export const BACKSTOP_GRACE_MS = 1000;
const STARTUP_RETRY_MS = 1000;
/** Templates the pool remembers by digest: which worker parsed each last, and its references. */
const MAX_KNOWN_TEMPLATES = 10_000;
/** Reference names remembered across them (each at most 256 characters, so at most ~25 MB). */
const MAX_KNOWN_REFERENCES = 50_000;

interface KnownTemplate {
  worker: number;
  parsed?: Parsed;
}

interface PendingJob {
  readonly job: Omit<TemplateJob, 'deadline'>;
  readonly digest: string;
  readonly resolve: (result: Parsed | Executed) => void;
  readonly reject: (error: Error) => void;
}

interface Sent {
  readonly tenant: string;
  readonly pending: PendingJob;
}

interface Slot {
  readonly id: number;
  readonly thread: Worker;
  ready: boolean;
  gone: boolean;
  stats?: WorkerStats;
  /** Jobs sent and not answered, the running one first; all of one tenant, so none waits behind another's. */
  readonly jobs: Sent[];
  /** Ends the worker if the running job overstays its deadline. */
  backstop?: NodeJS.Timeout;
}

/** What the pool posts to a worker: the worker starts the job's deadline when it starts the job. */
export interface WorkerRequest {
  readonly job: Omit<TemplateJob, 'deadline'>;
  readonly budgetMs: number;
}

interface WorkerMessage {
  readonly outcome?: JobOutcome;
  readonly stats: WorkerStats;
}

/** The worker entry beside this file: compiled JavaScript, or TypeScript under ts-node/jest (loaded the same way). */
function startThread(settings: TemplatePoolSettings): Worker {
  const entry = join(__dirname, `template-worker${extname(__filename)}`);
  const options = { workerData: settings.cache, resourceLimits: { maxOldGenerationSizeMb: settings.workerHeapMb } };
  if (extname(entry) !== '.ts') return new Worker(entry, options);
  const loader = [
    "require('ts-node').register({ transpileOnly: true, swc: true });",
    "require('tsconfig-paths').register();",
    `require(${JSON.stringify(entry)});`,
  ].join('\n');
  return new Worker(loader, { ...options, eval: true, execArgv: [] });
}

/**
 * Render's template work on worker threads, off the event loop that keeps auth, replies and /healthz. Tenants are
 * served round-robin from bounded lines (FairQueue). A tenant holds at most workers − 1 workers at once, so one is
 * always free for the others, and pipelines its jobs on the workers it holds (a worker only ever has one tenant's
 * jobs, so nobody waits behind another tenant's slow template). A job goes to the worker that parsed its template
 * last when it may, else to an idle one, else to a worker of its tenant. A known template's references are answered
 * here, so a render of it costs one job, its execution. A worker whose running job overstays its deadline by
 * BACKSTOP_GRACE_MS, or that runs out of heap, is ended and replaced: that job gets a refusal, the tenant's jobs
 * queued behind it go back to the head of its line.
 */
export class TemplateWorkerPool implements TemplateWork {
  private readonly slots: Slot[] = [];
  private readonly queue: FairQueue<PendingJob>;
  /** Least recently used first; lets a render of a known template skip the parse job. */
  private readonly known = new Map<string, KnownTemplate>();
  private knownReferences = 0;
  private nextSlotId = 1;
  private closed = false;

  constructor(
    private readonly settings: TemplatePoolSettings,
    private readonly observer: TemplatePoolObserver,
  ) {
    this.queue = new FairQueue({
      maxRunningPerTenant: settings.maxRunningPerTenant,
      maxQueuedPerTenant: settings.maxQueuedPerTenant,
    });
    for (let i = 0; i < settings.workers; i++) this.slots.push(this.startSlot());
  }

  /** Jobs waiting for a worker, across tenants. */
  get waiting(): number {
    return this.queue.waiting;
  }

  /** The last figures each live worker reported. */
  stats(): WorkerStats[] {
    return this.slots.flatMap((slot) => (slot.stats ? [slot.stats] : []));
  }

  /** A template's references: remembered on the main thread once a worker parsed it, so only its first parse queues. */
  async parse(tenant: string, job: Omit<ParseJob, 'deadline'>): Promise<Parsed> {
    const digest = templateDigest(job.source);
    const remembered = this.known.get(digest)?.parsed;
    if (remembered) return remembered;
    const parsed = (await this.run(tenant, job, digest)) as Parsed;
    const entry = this.known.get(digest);
    if (entry && !entry.parsed && parsed.references.length <= MAX_KNOWN_REFERENCES) {
      entry.parsed = parsed;
      this.knownReferences += parsed.references.length;
      this.forgetOldest();
    }
    return parsed;
  }

  execute(tenant: string, job: Omit<ExecuteJob, 'deadline'>): Promise<Executed> {
    return this.run(tenant, job, templateDigest(job.source)) as Promise<Executed>;
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) this.lose(slot, 'crash');
    for (let next = this.queue.next(); next; next = this.queue.next()) {
      this.queue.done(next.tenant);
      next.item.reject(new Error('render is shutting down'));
    }
    await Promise.all(slots.map((slot) => slot.thread.terminate()));
  }

  private run(tenant: string, job: Omit<TemplateJob, 'deadline'>, digest: string): Promise<Parsed | Executed> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('render is shutting down'));
      const pending: PendingJob = { job, digest, resolve, reject };
      if (!this.queue.push(tenant, pending)) {
        this.observer.refused();
        return reject(
          new RenderError(
            RenderErrorCode.RESOURCE_EXHAUSTED,
            `too many templates of this organization waiting: at most ${this.settings.maxQueuedPerTenant} may wait ` +
              `(RENDER_MAX_QUEUED_PER_ORG) beside ${this.settings.maxRunningPerTenant} on workers; retry later`,
          ),
        );
      }
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (;;) {
      const next = this.queue.next((tenant) => this.workersOpenTo(tenant).length > 0);
      if (!next) return;
      this.send(this.workerFor(next.item.digest, this.workersOpenTo(next.tenant)), next.tenant, next.item);
    }
  }

  /** Idle workers while the tenant holds fewer than workers − 1, then its own workers with room for another job. */
  private workersOpenTo(tenant: string): Slot[] {
    const usable = this.slots.filter((slot) => slot.ready);
    const held = usable.filter((slot) => slot.jobs[0]?.tenant === tenant);
    const idle = held.length < Math.max(1, this.settings.workers - 1) ? usable.filter((slot) => !slot.jobs.length) : [];
    return [...idle, ...held.filter((slot) => slot.jobs.length < this.settings.maxRunningPerTenant)];
  }

  private workerFor(digest: string, open: Slot[]): Slot {
    const entry = this.known.get(digest);
    const slot = open.find((candidate) => candidate.id === entry?.worker) ?? open[0];
    this.known.delete(digest);
    this.known.set(digest, { ...entry, worker: slot.id });
    this.forgetOldest();
    return slot;
  }

  private forgetOldest(): void {
    for (const [digest, entry] of this.known) {
      if (this.known.size <= MAX_KNOWN_TEMPLATES && this.knownReferences <= MAX_KNOWN_REFERENCES) return;
      this.known.delete(digest);
      this.knownReferences -= entry.parsed?.references.length ?? 0;
    }
  }

  private send(slot: Slot, tenant: string, pending: PendingJob): void {
    slot.jobs.push({ tenant, pending });
    if (slot.jobs.length === 1) this.armBackstop(slot);
    const request: WorkerRequest = { job: pending.job, budgetMs: this.settings.deadlineMs };
    slot.thread.postMessage(request);
  }

  /** From when the main thread knows the running job started (sent to an idle worker, or the one before answered). */
  private armBackstop(slot: Slot): void {
    clearTimeout(slot.backstop);
    slot.backstop = setTimeout(() => this.lose(slot, 'deadline'), this.settings.deadlineMs + BACKSTOP_GRACE_MS);
  }

  private startSlot(): Slot {
    const thread = startThread(this.settings);
    thread.unref();
    const slot: Slot = { id: this.nextSlotId++, thread, ready: false, gone: false, jobs: [] };
    thread.on('message', (message: WorkerMessage) => this.answered(slot, message));
    thread.on('error', (error: Error & { code?: string }) =>
      this.lose(slot, error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash'),
    );
    thread.on('exit', () => this.lose(slot, 'crash'));
    return slot;
  }

  private answered(slot: Slot, message: WorkerMessage): void {
    slot.stats = message.stats;
    slot.ready = true;
    const answered = message.outcome && slot.jobs.shift();
    if (answered && message.outcome) {
      clearTimeout(slot.backstop);
      if (slot.jobs.length > 0) this.armBackstop(slot);
      this.queue.done(answered.tenant);
      const outcome = message.outcome;
      if (outcome.ok) answered.pending.resolve(outcome.result);
      else answered.pending.reject(failureError(outcome.failure));
    }
    this.dispatch();
  }

  /** Ends a worker that overran, ran out of heap or died; its job gets a refusal, and a fresh worker takes its place. */
  private lose(slot: Slot, reason: WorkerLoss): void {
    if (slot.gone) return;
    slot.gone = true;
    void slot.thread.terminate();
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    clearTimeout(slot.backstop);
    const [running, ...behind] = slot.jobs.splice(0);
    if (running) {
      this.queue.done(running.tenant);
      running.pending.reject(lostJobError(running.pending.job.kind, reason, this.settings));
    }
    // Their turn had not come: back to the head of their line, in order.
    for (const sent of behind.reverse()) this.queue.retry(sent.tenant, sent.pending);
    if (this.closed) return;
    this.observer.workerReplaced(reason);
    // A worker that died before it was ready would die again at once: replace it after a pause, not in a hot loop.
    if (slot.ready) this.replace();
    else setTimeout(() => this.replace(), STARTUP_RETRY_MS).unref();
  }

  private replace(): void {
    if (this.closed) return;
    this.slots.push(this.startSlot());
    this.dispatch();
  }
}

/** The refusal for a job whose worker was ended under it; never a value, never INTERNAL for the caller's template. */
function lostJobError(kind: TemplateJob['kind'], reason: WorkerLoss, settings: TemplatePoolSettings): Error {
  const parsing = kind === 'parse';
  switch (reason) {
    case 'deadline':
      return parsing
        ? new RenderError(
            RenderErrorCode.TEMPLATE_PARSE_ERROR,
            `template parsing error: parsing took longer than the limit of ${settings.deadlineMs} ms`,
          )
        : new RenderError(
            RenderErrorCode.TEMPLATE_EXECUTION_ERROR,
            `template execution error: the template ran longer than the limit of ${settings.deadlineMs} ms`,
          );
    case 'memory':
      return parsing
        ? new RenderError(
            RenderErrorCode.TEMPLATE_TOO_LARGE,
            `template parsing error: the parsed template needs more than the memory limit of ${settings.workerHeapMb} MiB`,
          )
        : new RenderError(
            RenderErrorCode.TEMPLATE_EXECUTION_ERROR,
            `template execution error: the template needed more than the memory limit of ${settings.workerHeapMb} MiB`,
          );
    case 'crash':
      return new Error('a template worker stopped while handling the request');
    default: {
      const _exhaustive: never = reason;
      return _exhaustive;
    }
  }
}
