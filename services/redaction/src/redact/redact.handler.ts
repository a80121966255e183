import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { type JsonObject } from '@bufbuild/protobuf';
import { type RedactRequest, RedactRequestSchema, RedactResponseSchema, toWireJson } from '@platform/contracts';
import { CurrentPrincipal, type Principal, RequestBody } from '@platform/messaging';
import { TextRedaction } from './text-redaction';

/** The `redaction.v1.*` subjects: decode, delegate, encode. */
@Controller()
export class RedactHandler {
  constructor(private readonly redaction: TextRedaction) {}

  @MessagePattern('redaction.v1.redact')
  async redact(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(RedactRequestSchema) request: RedactRequest,
  ): Promise<JsonObject> {
    return toWireJson(RedactResponseSchema, await this.redaction.redact(principal, request));
  }
}
