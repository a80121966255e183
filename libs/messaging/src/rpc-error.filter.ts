import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import { ContractError } from '@platform/contracts';
import { type Observable, throwError } from 'rxjs';
import { type ErrorMapper, type WireError, toWireError } from './errors';

const contractErrors: ErrorMapper = (error) =>
  error instanceof ContractError ? { code: error.code, message: error.message, details: error.details } : undefined;

/** The one edge where any error a handler throws becomes the wire error envelope. */
@Catch()
export class RpcErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('RpcErrorFilter');
  private readonly mappers: readonly ErrorMapper[];

  constructor(mappers: readonly ErrorMapper[] = []) {
    this.mappers = [contractErrors, ...mappers];
  }

  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    const wire: WireError = toWireError(exception, this.mappers);
    if (wire.code === 'INTERNAL' || wire.code === 'UNAVAILABLE') {
      const error = exception instanceof Error ? exception : new Error(String(exception));
      this.logger.error({ err: { type: error.name, stack: error.stack } }, `request failed: ${wire.code}`);
    }
    return throwError(() => wire);
  }
}
