import { createHash } from 'node:crypto';
import { type SecretScope } from './secret';

/**
 * Namespace of `Secret.id`: id = UUIDv5(SECRET_ID_NAMESPACE, stream id). Fixed forever; changing it changes every id.
 */
export const SECRET_ID_NAMESPACE = 'c55e200f-f856-4bfd-bed8-8a48725ea378';

/** Stands for "no customer" in stream ids and subjects (no identifier can be `_`). */
export const NO_CUSTOMER = '_';

/** `secret:<org>:<customer|_>:<key>`; `:` appears in no identifier or key, so the parts can be read back. */
export function secretStreamId(scope: SecretScope, key: string): string {
  return `secret:${scope.organizationId}:${scope.customerOrganizationId ?? NO_CUSTOMER}:${key}`;
}

export interface SecretAddress {
  readonly scope: SecretScope;
  readonly key: string;
}

export function parseSecretStreamId(streamId: string): SecretAddress | undefined {
  const parts = streamId.split(':');
  if (parts.length !== 4 || parts[0] !== 'secret') return undefined;
  const [, organizationId, customer, key] = parts;
  return { scope: { organizationId, customerOrganizationId: customer === NO_CUSTOMER ? null : customer }, key };
}

/** One access event per resolve call, each in a stream of its own so concurrent resolves never contend. */
export function accessStreamId(organizationId: string, accessId: string): string {
  return `access:${organizationId}:${accessId}`;
}

/** `deployment:<org>:<customer|_>:<deployment>`: where a deployment's own events (`DeploymentForgotten`) go. */
export function deploymentStreamId(scope: SecretScope, deploymentId: string): string {
  return `deployment:${scope.organizationId}:${scope.customerOrganizationId ?? NO_CUSTOMER}:${deploymentId}`;
}

/** `destroyed:<org>:<customer|_>:<key>`: where a secret's `SecretVersionsDestroyed` events go (beside its stream). */
export function destroyedStreamId(scope: SecretScope, key: string): string {
  return `destroyed:${scope.organizationId}:${scope.customerOrganizationId ?? NO_CUSTOMER}:${key}`;
}

/** The secret a `destroyed:` stream belongs to. */
export function parseDestroyedStreamId(streamId: string): SecretAddress | undefined {
  return streamId.startsWith('destroyed:') ? parseSecretStreamId(`secret:${streamId.slice(10)}`) : undefined;
}

/** `customer:<org>:<customer>`: where a customer scope's `CustomerPurged` is appended. */
export function customerStreamId(organizationId: string, customerOrganizationId: string): string {
  return `customer:${organizationId}:${customerOrganizationId}`;
}

/** Where organization-wide events (`OrganizationPurged`) are appended. */
export function organizationStreamId(organizationId: string): string {
  return `organization:${organizationId}`;
}

/** The vendor organization a stream belongs to, for any stream the secrets service writes. */
export function organizationOfStream(streamId: string): string | undefined {
  const [kind, organizationId] = streamId.split(':');
  return kind === 'secret' ||
    kind === 'access' ||
    kind === 'organization' ||
    kind === 'deployment' ||
    kind === 'expiry' ||
    kind === 'exposure' ||
    kind === 'destroyed' ||
    kind === 'customer'
    ? organizationId
    : undefined;
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** Namespaces are the module's few constants: their bytes are read once (a secret id is made on every write). */
const namespaceBytes = new Map<string, Buffer>();

/** RFC 4122 §4.3 name-based UUID with SHA-1 (version 5). */
export function uuidV5(name: string, namespace: string): string {
  let space = namespaceBytes.get(namespace);
  if (space === undefined) {
    space = uuidBytes(namespace);
    if (namespaceBytes.size < 16) namespaceBytes.set(namespace, space);
  }
  const hash = createHash('sha1').update(space).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function secretId(streamId: string): string {
  return uuidV5(streamId, SECRET_ID_NAMESPACE);
}
