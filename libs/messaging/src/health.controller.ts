import { Controller, Get, Header, HttpCode, Res } from '@nestjs/common';
import { PlatformContext } from './platform-context';

/** The part of Express's response these endpoints use. */
interface HttpResponse {
  status(code: number): HttpResponse;
  type(contentType: string): HttpResponse;
  json(body: unknown): void;
  send(body: string): void;
}

/** `/healthz` (the process is alive), `/readyz` (its dependencies answer) and Prometheus `/metrics` on `HTTP_PORT`. */
@Controller()
export class HealthController {
  constructor(private readonly platform: PlatformContext) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() response: HttpResponse): Promise<void> {
    const report = await this.platform.readiness.report();
    response.status(report.ready ? 200 : 503).json(report);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() response: HttpResponse): Promise<void> {
    response.type(this.platform.metrics.contentType).send(await this.platform.metrics.metrics());
  }
}
