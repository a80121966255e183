import { createHash } from 'node:crypto';
import { type Template, parseTemplate } from '@platform/template';

export interface TemplateCacheLimits {
  /** Most parsed templates held. */
  readonly maxEntries: number;
  /** Most source bytes held across entries (a parsed template is a few times its source). */
  readonly maxSourceBytes: number;
}

interface Entry {
  readonly template: Template;
  readonly sourceBytes: number;
}

/**
 * Parsed templates by the SHA-256 of their source, least recently used evicted first. Deployments re-render
 * the same few templates, so parsing (the costliest step after crypto) mostly happens once. Parse failures
 * are not cached: they throw before anything is stored.
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

  get sourceBytes(): number {
    return this.heldBytes;
  }

  /** The parsed template for `source`; throws TemplateParseError when it does not parse. */
  parse(source: string): Template {
    const digest = createHash('sha256').update(source).digest('base64');
    const cached = this.entries.get(digest);
    if (cached) {
      this.hits++;
      // Re-insert so Map order is recency order.
      this.entries.delete(digest);
      this.entries.set(digest, cached);
      return cached.template;
    }
    this.misses++;
    const template = parseTemplate(source);
    const sourceBytes = Buffer.byteLength(source);
    if (sourceBytes <= this.limits.maxSourceBytes && this.limits.maxEntries > 0) {
      this.entries.set(digest, { template, sourceBytes });
      this.heldBytes += sourceBytes;
      this.evict();
    }
    return template;
  }

  private evict(): void {
    for (const [digest, entry] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.heldBytes <= this.limits.maxSourceBytes) return;
      this.entries.delete(digest);
      this.heldBytes -= entry.sourceBytes;
    }
  }
}
