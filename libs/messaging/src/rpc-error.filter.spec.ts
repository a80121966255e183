import { type ArgumentsHost, Logger } from '@nestjs/common';
import { lastValueFrom, type Observable } from 'rxjs';
import { PlatformError } from './errors';
import { RpcErrorFilter } from './rpc-error.filter';

const VALUE = 'sk_live_9Zq-distinctive-value';
const rpcHost = { getType: () => 'rpc' } as unknown as ArgumentsHost;

/** Runs the filter on `exception` and returns the wire error it replies with. */
async function replyTo(exception: unknown): Promise<unknown> {
  const result = new RpcErrorFilter().catch(exception, rpcHost) as Observable<never>;
  return lastValueFrom(result).catch((wire: unknown) => wire);
}

describe('RpcErrorFilter logging', () => {
  let error: jest.SpyInstance;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  it('logs an UNAVAILABLE refusal as one warning line without a stack', async () => {
    const refusal = new PlatformError('UNAVAILABLE', 'the secrets database is unavailable; retry later');
    expect(await replyTo(refusal)).toEqual({ code: 'UNAVAILABLE', message: refusal.message });
    expect(error).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
    const logged = JSON.stringify(warn.mock.calls[0]);
    expect(logged).toContain('request refused: UNAVAILABLE (the secrets database is unavailable; retry later)');
    expect(logged).not.toMatch(/stack|frames|\bat /);
  });

  it('logs an INTERNAL error by class, code and frames, never its message', async () => {
    const failure = Object.assign(new TypeError(`cannot read value ${VALUE} of undefined`), { code: 'ERR_X' });
    failure.cause = new Error(`caused by ${VALUE}`);
    expect(await replyTo(failure)).toEqual({ code: 'INTERNAL', message: 'internal error' });
    expect(error).toHaveBeenCalledTimes(1);
    const [fields, message] = error.mock.calls[0] as [{ err: Record<string, unknown> }, string];
    expect(message).toBe('request failed: INTERNAL');
    expect(JSON.stringify(error.mock.calls[0])).not.toContain(VALUE);
    expect(fields.err).toMatchObject({ type: 'TypeError', code: 'ERR_X', cause: { type: 'Error' } });
    expect((fields.err.frames as string[])[0]).toMatch(/^at .*rpc-error\.filter\.spec/);
  });

  it('logs a thrown non-error without its content', async () => {
    expect(await replyTo(`raw ${VALUE}`)).toEqual({ code: 'INTERNAL', message: 'internal error' });
    expect(JSON.stringify(error.mock.calls)).not.toContain(VALUE);
  });

  it('logs nothing for a refusal the caller caused', async () => {
    await replyTo(new PlatformError('INVALID_ARGUMENT', 'bad'));
    expect(error).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
  });
});
