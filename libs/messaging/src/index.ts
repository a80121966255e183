export { BearerAuthGuard, CurrentPrincipal, RequestContext, headerOf, principalOf } from './auth.guard';
export {
  assertCanWrite,
  assertIdentifier,
  assertServiceScope,
  hasScope,
  permissionDenied,
  userScope,
  type Scope,
} from './authorization';
export { runService, startService, type RunningService, type ServiceDefinition } from './bootstrap';
export {
  INTERNAL_ERROR,
  PlatformError,
  codedErrorMapper,
  contractErrorMapper,
  isWireError,
  statusOf,
  toWireError,
  type ErrorCode,
  type ErrorMapper,
  type WireError,
  type WireMapping,
} from './errors';
export {
  FORWARDING_SERVICES,
  ForwardedTokenVerifier,
  ON_BEHALF_OF_HEADER,
  bearerTokenOf,
  forwardedTokenDigest,
  isPlatformService,
} from './forwarded-token';
export {
  JetStreamSetupConflict,
  ensureStreams,
  prefixedStreamName,
  retryJetStreamSetup,
  streamConfig,
  type SetupRetryOptions,
  type StreamName,
} from './jetstream';
export { JsonRequester, type JsonReply, type JsonRequestOptions } from './json-requester';
export { createLogger, scrubLogObject } from './logging';
export {
  type NatsSecuritySettings,
  connectionInbox,
  inboxPrefixOf,
  natsConnectionOptions,
  natsCredentials,
} from './nats-credentials';
export { ERROR_CODE_HEADER, ERROR_MESSAGE_HEADER, PlatformNatsServer, encodeErrorReply } from './nats-transport';
export { PlatformContext, Readiness, type ReadinessCheck } from './platform-context';
export {
  PLATFORM_SERVICE_SCOPES,
  IDENTIFIER_PATTERN,
  actorOf,
  isSubject,
  principalFromClaims,
  type CustomerUser,
  type OrgType,
  type Principal,
  type Role,
  type ServiceScope,
  type VendorUser,
  type ServicePrincipal,
} from './principal';
export { RequestBody } from './request-body';
export { RequestMetrics, type RequestHooks } from './request-metrics';
export { SubscriptionRefused, confirmSubscriptions } from './required-subscription';
export { resolveSealed, type ReplyKeyPair, type ResolveFields, type SealedResolve } from './sealed-resolve';
export { DependencyError, ServiceClient, ServiceTokenIssuer } from './service-client';
