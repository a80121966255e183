import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  DeleteSecretResponseSchema,
  GetSecretHistoryResponseSchema,
  ListSecretsResponseSchema,
  SecretSchema,
  toWireJson,
} from '@platform/contracts';
import { type JsonObject } from '@bufbuild/protobuf';
import { wireActor } from '../outbox/secret-event-publisher';
import { type SecretHistoryEntry, type SecretSnapshot } from './secret-snapshot';
import { secretId } from './secret-stream';
import { type ResolveResult } from '../resolve/secret-resolver';
import { type SecretDeletion, type SecretPage } from './secrets.service';

const timestamp = (iso: string) => timestampFromDate(new Date(iso));

function secretMessage(snapshot: SecretSnapshot) {
  return {
    id: secretId(snapshot.streamId),
    key: snapshot.key,
    organizationId: snapshot.scope.organizationId,
    customerOrganizationId: snapshot.scope.customerOrganizationId ?? undefined,
    version: snapshot.version,
    createdAt: timestamp(snapshot.createdAt),
    createdBy: snapshot.createdBy,
    updatedAt: timestamp(snapshot.updatedAt),
    updatedBy: snapshot.updatedBy,
  };
}

/** `Secret` of ARCHITECTURE.md §3: metadata only, never a value. */
export function secretReply(snapshot: SecretSnapshot): JsonObject {
  return toWireJson(SecretSchema, secretMessage(snapshot));
}

export function deletionReply(deletion: SecretDeletion): JsonObject {
  return toWireJson(DeleteSecretResponseSchema, {
    key: deletion.key,
    version: deletion.version,
    deletedAt: timestamp(deletion.deletedAt),
  });
}

export function listReply(page: SecretPage): JsonObject {
  return toWireJson(ListSecretsResponseSchema, {
    secrets: page.secrets.map(secretMessage),
    nextPageToken: page.nextPageToken,
  });
}

export function historyReply(versions: readonly SecretHistoryEntry[]): JsonObject {
  return toWireJson(GetSecretHistoryResponseSchema, {
    versions: versions.map((entry) => ({
      version: entry.version,
      type: entry.type,
      occurredAt: timestamp(entry.occurredAt),
      actor: wireActor(entry.actor),
    })),
  });
}

/** `ResolveSecretsResponse` as its wire JSON, built directly: every field is always present, so no message is needed. */
export function resolveReply(result: ResolveResult): JsonObject {
  return { ciphertext: result.ciphertext, missing: [...result.missing], signature: result.signature };
}
