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
import {
  CurrentPrincipal,
  type Principal,
  RequestBody,
  RequestContext,
  headerOf,
  toWireError,
} from '@platform/messaging';
import { renderErrorMapper } from './render.error';
import { RenderMetrics, formatLabel } from './render.metrics';
import { TemplateRenderer } from './template-renderer';

/** The `render.v1.*` subjects: decode, delegate, encode, count. */
@Controller()
export class RenderHandler {
  constructor(
    private readonly renderer: TemplateRenderer,
    private readonly metrics: RenderMetrics,
  ) {}

  @MessagePattern('render.v1.render')
  render(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(RenderRequestSchema) request: RenderRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    // The guard has verified this header; render forwards it (On-Behalf-Of) so secrets records who asked.
    const authorization = headerOf(context, 'Authorization');
    return this.measured('render.v1.render', request.format, async () =>
      toWireJson(RenderResponseSchema, await this.renderer.render(principal, request, authorization)),
    );
  }

  @MessagePattern('render.v1.validate')
  validate(
    @CurrentPrincipal() principal: Principal,
    @RequestBody(ValidateTemplateRequestSchema) request: ValidateTemplateRequest,
    @RequestContext() context: NatsContext,
  ): Promise<JsonObject> {
    // The guard has verified this header; validate forwards it so secrets.v1.list sees the caller, not render.
    const authorization = headerOf(context, 'Authorization') ?? '';
    return this.measured('render.v1.validate', request.format, async () =>
      toWireJson(ValidateTemplateResponseSchema, await this.renderer.validate(principal, request, authorization)),
    );
  }

  private async measured<T>(subject: string, format: string, handle: () => Promise<T>): Promise<T> {
    const labels = { subject, format: formatLabel(format) };
    const stopTimer = this.metrics.duration.startTimer(labels);
    try {
      const reply = await handle();
      this.metrics.requests.inc({ ...labels, outcome: 'OK' });
      return reply;
    } catch (error) {
      this.metrics.requests.inc({ ...labels, outcome: toWireError(error, [renderErrorMapper]).code });
      throw error;
    } finally {
      stopTimer();
    }
  }
}
