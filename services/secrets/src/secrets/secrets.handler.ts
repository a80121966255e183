import { Controller } from '@nestjs/common';
import { MessagePattern, type NatsContext } from '@nestjs/microservices';
import { type JsonObject } from '@bufbuild/protobuf';
import {
  CreateSecretRequestSchema,
  type CreateSecretRequest,
  DeleteSecretRequestSchema,
  type DeleteSecretRequest,
  DestroySecretVersionsRequestSchema,
  type DestroySecretVersionsRequest,
  ForgetDeploymentRequestSchema,
  type ForgetDeploymentRequest,
  ListDeploymentsRequestSchema,
  type ListDeploymentsRequest,
  GetSecretHistoryRequestSchema,
  type GetSecretHistoryRequest,
  GetSecretRequestSchema,
  type GetSecretRequest,
  ListSecretsRequestSchema,
  type ListSecretsRequest,
  ReportExposureRequestSchema,
  type ReportExposureRequest,
  ResolveSecretsRequestSchema,
  type ResolveSecretsRequest,
  RestoreSecretRequestSchema,
  type RestoreSecretRequest,
  RollbackSecretRequestSchema,
  type RollbackSecretRequest,
  UpdateSecretRequestSchema,
  type UpdateSecretRequest,
} from '@platform/contracts';
import {
  CurrentPrincipal,
  ForwardedTokenVerifier,
  ON_BEHALF_OF_HEADER,
  type Principal,
  RequestBody,
  RequestContext,
  headerOf,
} from '@platform/messaging';
import { ExposureLog } from '../exposure/exposure-log';
import { SecretResolver } from '../resolve/secret-resolver';
import { MAX_VALUE_BYTES } from './secret.decider';
import { DeploymentIndex } from './deployment-index';
import {
  deletionReply,
  deploymentsReply,
  destructionReply,
  forgetDeploymentReply,
  historyReply,
  listReply,
  reportExposureReply,
  resolveReply,
  secretReply,
  updateReply,
} from './secrets.replies';
import { SecretsService } from './secrets.service';

/** A 64 KiB value may arrive JSON-escaped (`\u0041` is 6 bytes per byte), plus room for the other fields. */
export const WRITE_REQUEST_MAX_BYTES = 6 * MAX_VALUE_BYTES + 16 * 1024;

const idempotencyKeyOf = (context: NatsContext) => ({ idempotencyKey: headerOf(context, 'Idempotency-Key') });

/** The `secrets.v1.*` subjects: decode, delegate, encode. */
@Controller()
export class SecretsHandler {
  constructor(
    private readonly secrets: SecretsService,
    private readonly resolver: SecretResolver,
    private readonly deployments: DeploymentIndex,
    private readonly forwarded: ForwardedTokenVerifier,
    private readonly exposures: ExposureLog,
  ) {}

  @MessagePattern('secrets.v1.create')
  async create(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(CreateSecretRequestSchema, { maxBytes: WRITE_REQUEST_MAX_BYTES }) request: CreateSecretRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    return secretReply(await this.secrets.create(principal, request, idempotencyKeyOf(context)));
  }

  @MessagePattern('secrets.v1.update')
  async update(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(UpdateSecretRequestSchema, { maxBytes: WRITE_REQUEST_MAX_BYTES }) request: UpdateSecretRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    return updateReply(await this.secrets.update(principal, request, idempotencyKeyOf(context)));
  }

  @MessagePattern('secrets.v1.delete')
  async delete(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(DeleteSecretRequestSchema) request: DeleteSecretRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    return deletionReply(await this.secrets.delete(principal, request, idempotencyKeyOf(context)));
  }

  @MessagePattern('secrets.v1.rollback')
  async rollback(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(RollbackSecretRequestSchema) request: RollbackSecretRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    return updateReply(await this.secrets.rollback(principal, request, idempotencyKeyOf(context)));
  }

  @MessagePattern('secrets.v1.restore')
  async restore(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(RestoreSecretRequestSchema) request: RestoreSecretRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    return updateReply(await this.secrets.restore(principal, request, idempotencyKeyOf(context)));
  }

  @MessagePattern('secrets.v1.destroy')
  async destroy(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(DestroySecretVersionsRequestSchema) request: DestroySecretVersionsRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    return destructionReply(await this.secrets.destroy(principal, request, idempotencyKeyOf(context)));
  }

  @MessagePattern('secrets.v1.get')
  async get(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(GetSecretRequestSchema) request: GetSecretRequest,
  ): Promise<JsonObject> {
    return secretReply(await this.secrets.get(principal, request));
  }

  @MessagePattern('secrets.v1.list')
  async list(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(ListSecretsRequestSchema) request: ListSecretsRequest,
  ): Promise<JsonObject> {
    return listReply(await this.secrets.list(principal, request));
  }

  @MessagePattern('secrets.v1.history')
  async history(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(GetSecretHistoryRequestSchema) request: GetSecretHistoryRequest,
  ): Promise<JsonObject> {
    return historyReply(await this.secrets.history(principal, request));
  }

  @MessagePattern('secrets.v1.resolve')
  async resolve(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(ResolveSecretsRequestSchema) request: ResolveSecretsRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    const requester = await this.forwarded.requesterOf(principal, headerOf(context, ON_BEHALF_OF_HEADER));
    return resolveReply(await this.resolver.resolve(principal, request, requester));
  }

  @MessagePattern('secrets.v1.deployments')
  async listDeployments(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(ListDeploymentsRequestSchema) request: ListDeploymentsRequest,
  ): Promise<JsonObject> {
    return deploymentsReply(await this.deployments.list(principal, request));
  }

  @MessagePattern('secrets.v1.forgetdeployment')
  async forgetDeployment(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(ForgetDeploymentRequestSchema) request: ForgetDeploymentRequest,
  ): Promise<JsonObject> {
    return forgetDeploymentReply(await this.deployments.forget(principal, request));
  }

  @MessagePattern('secrets.v1.reportexposure')
  async reportExposure(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(ReportExposureRequestSchema) request: ReportExposureRequest,
  ): Promise<JsonObject> {
    return reportExposureReply(await this.exposures.report(principal, request));
  }
}
