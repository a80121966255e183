import { Controller, Get, Header, HttpCode, Res } from '@nestjs/common';
import { type Response } from 'express';
import { PlatformContext } from './platform-context';

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
  async readyz(@Res() response: Response): Promise<void> {
    const report = await this.platform.readiness.report();
    response.status(report.ready ? 200 : 503).json(report);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() response: Response): Promise<void> {
    response.type(this.platform.metrics.contentType).send(await this.platform.metrics.metrics());
  }
}
