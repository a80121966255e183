import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { type QueryAuditRequest, QueryAuditRequestSchema, VerifyAuditChainRequestSchema } from '@platform/contracts';
import { CurrentPrincipal, type Principal, RequestBody } from '@platform/messaging';
import { type ChainVerification } from '../checkpoints/chain-audit';
import { type AuditPage, AuditTrail } from './audit-trail';

@Controller()
export class AuditController {
  constructor(private readonly trail: AuditTrail) {}

  @MessagePattern('audit.v1.query')
  query(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(QueryAuditRequestSchema) request: QueryAuditRequest,
  ): Promise<AuditPage> {
    return this.trail.query(principal, request);
  }

  @MessagePattern('audit.v1.verify')
  verify(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(VerifyAuditChainRequestSchema) _request: unknown,
  ): Promise<ChainVerification> {
    return this.trail.verify(principal);
  }
}
