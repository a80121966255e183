import { ResolveSecretsResponseSchema, toWireJson } from '@platform/contracts';
import { resolveReply } from './secrets.replies';

describe('resolveReply', () => {
  it('is the proto3 wire JSON of ResolveSecretsResponse, with and without missing keys', () => {
    for (const result of [
      { ciphertext: 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn', signature: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln', missing: [] },
      {
        ciphertext: 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn',
        signature: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
        missing: ['API_KEY', 'DB_PASSWORD'],
      },
    ]) {
      expect(JSON.stringify(resolveReply(result))).toBe(
        JSON.stringify(toWireJson(ResolveSecretsResponseSchema, result)),
      );
    }
  });
});
