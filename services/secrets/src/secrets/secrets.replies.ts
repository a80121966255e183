import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  DeleteSecretResponseSchema,
  ForgetDeploymentResponseSchema,
  ListDeploymentsResponseSchema,
  DestroySecretVersionsResponseSchema,
  GetSecretHistoryResponseSchema,
  ListSecretsResponseSchema,
  ReportExposureResponseSchema,
  SecretSchema,
  UpdateSecretResponseSchema,
  toWireJson,
} from '@platform/contracts';
import { type JsonObject } from '@bufbuild/protobuf';
import { wireActor } from '../outbox/secret-event-publisher';
import { type SecretHistoryEntry, type SecretSnapshot } from './secret-snapshot';
import { secretId } from './secret-stream';
import { type ResolveResult } from '../resolve/secret-resolver';
import { type SecretDeletion, type SecretDestruction, type SecretPage, type SecretUpdate } from './secrets.service';
import { type AffectedDeployments } from './deployment-index.affected';
import { type DeploymentForgetting, type DeploymentPage } from './deployment-index';

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
    expiresAt: snapshot.expiresAt === undefined ? undefined : timestamp(snapshot.expiresAt),
    // The current version's value was seen in a deployment's log.
    exposed: snapshot.exposure?.version === snapshot.version ? true : undefined,
    exposure: snapshot.exposure && {
      version: snapshot.exposure.version,
      firstSeenAt: timestamp(snapshot.exposure.firstSeenAt),
      lastSeenAt: timestamp(snapshot.exposure.lastSeenAt),
      lineCount: snapshot.exposure.lineCount,
    },
  };
}

/** `Secret` of ARCHITECTURE.md §3: metadata only, never a value. */
export function secretReply(snapshot: SecretSnapshot): JsonObject {
  return toWireJson(SecretSchema, secretMessage(snapshot));
}

function affectedMessage(affected: AffectedDeployments) {
  return {
    count: affected.count,
    deployments: affected.deployments.map((deployment) => ({
      deploymentId: deployment.deploymentId,
      customerOrganizationId: deployment.customerOrganizationId ?? undefined,
      lastRenderedAt: timestamp(deployment.lastRenderedAt),
    })),
  };
}

/** `Secret` plus `affectedDeployments`: the deployments that run an older value until redeployed. */
export function updateReply(update: SecretUpdate): JsonObject {
  return toWireJson(UpdateSecretResponseSchema, {
    ...secretMessage(update),
    affectedDeployments: affectedMessage(update.affectedDeployments),
  });
}

export function deletionReply(deletion: SecretDeletion): JsonObject {
  return toWireJson(DeleteSecretResponseSchema, {
    key: deletion.key,
    version: deletion.version,
    deletedAt: timestamp(deletion.deletedAt),
    affectedDeployments: affectedMessage(deletion.affectedDeployments),
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
      fromVersion: entry.fromVersion,
      expiresAt: entry.expiresAt === undefined ? undefined : timestamp(entry.expiresAt),
      destroyed: entry.destroyed,
      destroyedVersions: [...entry.destroyedVersions],
    })),
  });
}

/** `DestroySecretVersionsResponse`. */
export function destructionReply(destruction: SecretDestruction): JsonObject {
  return toWireJson(DestroySecretVersionsResponseSchema, {
    key: destruction.key,
    customerOrganizationId: destruction.customerOrganizationId ?? undefined,
    versions: [...destruction.versions],
    destroyedAt: timestamp(destruction.destroyedAt),
  });
}

/** `ResolveSecretsResponse` as its wire JSON, built directly: every field is always present, so no message is needed. */
export function resolveReply(result: ResolveResult): JsonObject {
  return { ciphertext: result.ciphertext, missing: [...result.missing], signature: result.signature };
}

export function reportExposureReply(report: { eventId: string }): JsonObject {
  return toWireJson(ReportExposureResponseSchema, { eventId: report.eventId });
}

export function deploymentsReply(page: DeploymentPage): JsonObject {
  return toWireJson(ListDeploymentsResponseSchema, {
    deployments: page.deployments.map((deployment) => ({
      deploymentId: deployment.deploymentId,
      customerOrganizationId: deployment.customerOrganizationId ?? undefined,
      lastRenderedAt: timestamp(deployment.lastRenderedAt),
      requestedBy: wireActor(deployment.requestedBy),
      references: deployment.references.map((reference) => ({ ...reference })),
      stale: deployment.stale,
    })),
    nextPageToken: page.nextPageToken,
  });
}

export function forgetDeploymentReply(forgetting: DeploymentForgetting): JsonObject {
  return toWireJson(ForgetDeploymentResponseSchema, {
    deploymentId: forgetting.deploymentId,
    customerOrganizationId: forgetting.customerOrganizationId ?? undefined,
    forgottenAt: timestamp(forgetting.forgottenAt),
  });
}
