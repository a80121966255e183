export {
  type ConfiguredNatsServer,
  type ConfiguredNatsServerOptions,
  freePort,
  freePorts,
  startConfiguredNatsServer,
} from './configured-nats-server';
export { type EventuallyOptions, eventually, eventuallyValue } from './eventually';
export { type FakeResolveAnswer, type ResolveCall, fakeSecretsResolve } from './fake-secrets-resolve';
export {
  createTestDatabase,
  dropRunDatabases,
  isReachable,
  releaseRunStreams,
  releaseSubjectPrefix,
  testInfrastructure,
  testRunId,
  uniqueSubjectPrefix,
  type TestDatabase,
} from './infrastructure';
export { PlaintextValues, testTenants, type TestTenants } from './fixtures';
export { ClusterNode, NatsCluster } from './nats-cluster';
export { natsServerBinary } from './nats-server-binary';
export { TestNatsClient, type Reply } from './nats-client';
export { startTestService, type TestService } from './services';
export { type ServiceLoader, type TestPlatform, type TestPlatformOptions, startTestPlatform } from './test-platform';
export {
  type SecureNatsServer,
  type SecureNatsServerOptions,
  type TestPki,
  TestOperator,
  createTestPki,
  plainTextExchange,
  startSecureNatsServer,
} from './secure-nats';
export { TestTokens } from './tokens';
export { ResolveCaller, devReplyJwks, devReplySigningKey, replySigningKeyPair, resolveAs } from './resolve-caller';
export { wireErrorOf } from './wire-error-of';
