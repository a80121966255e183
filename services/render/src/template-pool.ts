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
  /** Jobs one tenant runs at once; at most workers − 1, so a worker is always left for the others. */
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

interface Slot {
  readonly id: number;
  readonly thread: Worker;
  ready: boolean;
  gone: boolean;
  stats?: WorkerStats;
  running?: { readonly tenant: string; readonly pending: PendingJob; readonly backstop: NodeJS.Timeout };
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
 * served round-robin from bounded lines (FairQueue); a job goes to the worker that parsed its template last when
 * that worker is idle, else to any idle worker (which parses again). A known template's references are answered
 * here, so a render of it costs one job, its execution. One job per worker at a time, so a worker
 * that overruns its deadline by BACKSTOP_GRACE_MS, or runs out of heap, is ended and replaced taking only its own
 * job with it.
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
      maxRunningPerTenant: maxRunningPerTenant(settings),
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
              `(RENDER_MAX_QUEUED_PER_ORG) while ${maxRunningPerTenant(this.settings)} run; retry later`,
          ),
        );
      }
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (;;) {
      const idle = this.slots.filter((slot) => slot.ready && !slot.running);
      if (idle.length === 0) return;
      const next = this.queue.next();
      if (!next) return;
      this.start(this.workerFor(next.item.digest, idle), next.tenant, next.item);
    }
  }

  private workerFor(digest: string, idle: Slot[]): Slot {
    const entry = this.known.get(digest);
    const slot = idle.find((candidate) => candidate.id === entry?.worker) ?? idle[0];
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

  private start(slot: Slot, tenant: string, pending: PendingJob): void {
    const backstop = setTimeout(() => this.lose(slot, 'deadline'), this.settings.deadlineMs + BACKSTOP_GRACE_MS);
    slot.running = { tenant, pending, backstop };
    slot.thread.postMessage({ ...pending.job, deadline: Date.now() + this.settings.deadlineMs });
  }

  private startSlot(): Slot {
    const thread = startThread(this.settings);
    thread.unref();
    const slot: Slot = { id: this.nextSlotId++, thread, ready: false, gone: false };
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
    const running = slot.running;
    if (running && message.outcome) {
      slot.running = undefined;
      clearTimeout(running.backstop);
      this.queue.done(running.tenant);
      const outcome = message.outcome;
      if (outcome.ok) running.pending.resolve(outcome.result);
      else running.pending.reject(failureError(outcome.failure));
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
    if (slot.running) {
      clearTimeout(slot.running.backstop);
      this.queue.done(slot.running.tenant);
      slot.running.pending.reject(lostJobError(slot.running.pending.job.kind, reason, this.settings));
    }
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

export function maxRunningPerTenant(settings: TemplatePoolSettings): number {
  return Math.min(settings.maxRunningPerTenant, Math.max(1, settings.workers - 1));
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
