import { type ArgumentsHost, Catch, type HttpServer, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { type NatsContext } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';
import { type ErrorMapper, type WireError, contractErrorMapper, toWireError } from './errors';
import { describeError } from './logging';
import { type RequestHooks } from './request-metrics';

/**
 * The one edge where any error a NATS handler throws becomes the wire error envelope.
 * HTTP (health and metrics) errors keep Nest's default handling.
 */
@Catch()
export class RpcErrorFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('RpcErrorFilter');
  private readonly mappers: readonly ErrorMapper[];

  constructor(
    mappers: readonly ErrorMapper[] = [],
    httpAdapter?: HttpServer,
    /** The service's hooks, told of each failure by the subject without `subjectPrefix`. */
    private readonly failures: { readonly hooks?: RequestHooks; readonly subjectPrefix?: string } = {},
  ) {
    super(httpAdapter);
    this.mappers = [contractErrorMapper, ...mappers];
  }

  override catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() !== 'rpc') return super.catch(exception, host);
    const { hooks, subjectPrefix = '' } = this.failures;
    if (hooks?.failed) {
      const subject = host.switchToRpc().getContext<NatsContext>().getSubject();
      hooks.failed(subject.slice(subjectPrefix.length), exception);
    }
    const wire: WireError = toWireError(exception, this.mappers);
    const error = exception instanceof Error ? exception : new Error(typeof exception);
    if (wire.code === 'INTERNAL') {
      // Class, code and frames only: an unexpected error's message may quote whatever it touched, a value included.
      this.logger.error({ err: describeError(error) }, 'request failed: INTERNAL');
    } else if (wire.code === 'UNAVAILABLE') {
      // Expected during a dependency outage, once per refused request: one short line, no stack.
      this.logger.warn({ err: { type: error.name } }, `request refused: UNAVAILABLE (${wire.message})`);
    }
    return throwError(() => wire);
  }
}
