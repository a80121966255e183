import { randomBytes } from 'node:crypto';

/** Organization ids unique to one test file, so files sharing Postgres and NATS never see each other's tenants. */
export interface TestTenants {
  /** The random suffix of this file's ids, for any further id it needs. */
  readonly run: string;
  readonly vendor: string;
  readonly customer: string;
  readonly otherCustomer: string;
  readonly otherVendor: string;
}

export function testTenants(): TestTenants {
  const run = randomBytes(3).toString('hex');
  return {
    run,
    vendor: `acme${run}`,
    customer: `globex${run}`,
    otherCustomer: `hooli${run}`,
    otherVendor: `initech${run}`,
  };
}

/** Distinctive plaintext values, remembered so a test can prove none of them leaked. */
export class PlaintextValues {
  private readonly issued: string[] = [];

  next(label: string): string {
    const value = `${label}-${randomBytes(12).toString('hex')}`;
    this.issued.push(value);
    return value;
  }

  /** A value made elsewhere (a certificate, a fixed string) that must not leak either. */
  remember(value: string): string {
    this.issued.push(value);
    return value;
  }

  get all(): readonly string[] {
    return this.issued;
  }
}
