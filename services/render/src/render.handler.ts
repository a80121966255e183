import { Controller } from '@nestjs/common';
import { MessagePattern, type NatsContext } from '@nestjs/microservices';
import { type JsonObject } from '@bufbuild/protobuf';
import {
  RenderRequestSchema,
  RenderResponseSchema,
  type RenderRequest,
  ValidateTemplateRequestSchema,
  ValidateTemplateResponseSchema,
  type ValidateTemplateRequest,
  toWireJson,
} from '@platform/contracts';
import { CurrentPrincipal, type Principal, RequestBody, RequestContext, headerOf } from '@platform/messaging';
import { TemplateRenderer } from './template-renderer';

/** The `render.v1.*` subjects: decode, delegate, encode (the platform counts them). */
@Controller()
export class RenderHandler {
  constructor(private readonly renderer: TemplateRenderer) {}

  @MessagePattern('render.v1.render')
  async render(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(RenderRequestSchema) request: RenderRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    // The guard has verified this header; render forwards it (On-Behalf-Of) so secrets records who asked.
    const authorization = headerOf(context, 'Authorization');
    return toWireJson(RenderResponseSchema, await this.renderer.render(principal, request, authorization));
  }

  @MessagePattern('render.v1.validate')
  async validate(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(ValidateTemplateRequestSchema) request: ValidateTemplateRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    // The guard has verified this header; validate forwards it so secrets.v1.list sees the caller, not render.
    const authorization = headerOf(context, 'Authorization') ?? '';
    return toWireJson(ValidateTemplateResponseSchema, await this.renderer.validate(principal, request, authorization));
  }
}
