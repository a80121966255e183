import { NatsError, type StreamConfig } from 'nats';
import { JetStreamSetupConflict, differsFrom, retryJetStreamSetup, streamConfig } from './jetstream';

function apiError(errCode: number, description: string): NatsError {
  const error = new NatsError(description, '400');
  error.api_error = { code: 400, err_code: errCode, description };
  return error;
}

const inAMinute = () => ({ deadlineAt: Date.now() + 60_000 });

describe('retryJetStreamSetup', () => {
  it('retries what a forming cluster answers until the step succeeds', async () => {
    const failures = [new NatsError('TIMEOUT', 'TIMEOUT'), apiError(10008, 'JetStream system temporarily unavailable')];
    const retried: unknown[] = [];
    const result = await retryJetStreamSetup(
      'setting up stream S',
      () => {
        const failure = failures.shift();
        return failure ? Promise.reject(failure) : Promise.resolve('done');
      },
      { ...inAMinute(), onRetry: (error) => retried.push(error) },
    );
    expect(result).toBe('done');
    expect(retried).toHaveLength(2);
  });

  it('fails at once on a configuration conflict, saying what the server refused', async () => {
    let attempts = 0;
    const setup = retryJetStreamSetup(
      'setting up stream S',
      () => {
        attempts++;
        return Promise.reject(apiError(10058, 'stream name already in use with a different configuration'));
      },
      inAMinute(),
    );
    await expect(setup).rejects.toThrow(JetStreamSetupConflict);
    await expect(setup).rejects.toThrow(
      "setting up stream S: the existing configuration conflicts with this release's (stream name already in use with a different configuration)",
    );
    expect(attempts).toBe(1);
  });

  it('gives up at the deadline, naming the step and the last error', async () => {
    await expect(
      retryJetStreamSetup('setting up stream S', () => Promise.reject(new NatsError('TIMEOUT', 'TIMEOUT')), {
        deadlineAt: Date.now() - 1,
      }),
    ).rejects.toThrow('setting up stream S did not succeed before the start deadline: TIMEOUT');
  });
});

describe('differsFrom', () => {
  const wanted = streamConfig('SECRETS_EVENTS', { subjectPrefix: '', replicas: 1 });
  // What the server reports: every setting, the wanted ones included.
  const existing = { ...wanted, max_msgs: -1, discard: 'old', sealed: false } as unknown as StreamConfig;

  it('leaves a stream with the wanted settings alone, whatever else the server reports', () => {
    expect(differsFrom(existing, wanted)).toBe(false);
  });

  it('updates a stream of an earlier release that lacks deny_delete and deny_purge', () => {
    const { deny_delete: _d, deny_purge: _p, ...earlier } = existing;
    expect(differsFrom(earlier as StreamConfig, wanted)).toBe(true);
    expect(differsFrom({ ...existing, subjects: ['other.>'] }, wanted)).toBe(true);
  });
});
