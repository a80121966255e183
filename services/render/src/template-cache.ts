import { createHash } from 'node:crypto';
import { type Template, parseTemplate } from '@platform/template';

export interface TemplateCacheLimits {
  /** Most parsed templates held. */
  readonly maxEntries: number;
  /** Most estimated heap held across entries (Template.estimatedBytes: a parsed template is ~200-350× its source). */
  readonly maxBytes: number;
}

interface Entry {
  readonly template: Template;
  readonly bytes: number;
}

/** The cache key of a template source; also what the worker pool routes by. */
export function templateDigest(source: string): string {
  return createHash('sha256').update(source).digest('base64');
}

/**
 * Parsed templates by the SHA-256 of their source, least recently used evicted first. Deployments re-render
 * the same few templates, so parsing (the costliest step after crypto) mostly happens once. Parse failures
 * are not cached: they throw before anything is stored. Bounded by the parsed templates' estimated memory, so a
 * flood of distinct large templates evicts instead of growing.
 */
export class TemplateCache {
  private readonly entries = new Map<string, Entry>();
  private heldBytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly limits: TemplateCacheLimits) {}

  get size(): number {
    return this.entries.size;
  }

  /** Estimated heap held by the cached templates. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The parsed template for `source`; throws TemplateParseError when it does not parse (or not by `deadline`). */
  parse(source: string, deadline?: number): Template {
    const digest = templateDigest(source);
    const cached = this.entries.get(digest);
    if (cached) {
      this.hits++;
      // Re-insert so Map order is recency order.
      this.entries.delete(digest);
      this.entries.set(digest, cached);
      return cached.template;
    }
    this.misses++;
    const template = parseTemplate(source, { deadline });
    const bytes = template.estimatedBytes;
    if (bytes <= this.limits.maxBytes && this.limits.maxEntries > 0) {
      this.entries.set(digest, { template, bytes });
      this.heldBytes += bytes;
      this.evict();
    }
    return template;
  }

  private evict(): void {
    for (const [digest, entry] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.heldBytes <= this.limits.maxBytes) return;
      this.entries.delete(digest);
      this.heldBytes -= entry.bytes;
    }
  }
}
