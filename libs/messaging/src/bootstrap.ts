import { type DynamicModule, Global, Module, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions } from '@nestjs/microservices';
import { type CommonConfig, ConfigError, type ServiceName, urlList } from '@platform/config';
import { LoggerModule, Logger as NestPinoLogger } from 'nestjs-pino';
import { type NatsConnection, connect } from 'nats';
import { type AddressInfo } from 'node:net';
import { type DestinationStream } from 'pino';
import { Counter } from 'prom-client';
import { BearerAuthGuard } from './auth.guard';
import { type ErrorMapper } from './errors';
import { HealthController } from './health.controller';
import { type StreamName, ensureStreams } from './jetstream';
import { createLogger } from './logging';
import { natsConnectionOptions } from './nats-credentials';
import { PlatformNatsServer } from './nats-transport';
import { PlatformContext, Readiness, createMetricsRegistry } from './platform-context';
import { type ServiceScope } from './principal';
import { type RequestHooks, RequestMetrics } from './request-metrics';
import { RpcErrorFilter } from './rpc-error.filter';
import { ServiceClient, ServiceTokenIssuer } from './service-client';
import { reloadJwks, serviceTokenKeys } from './service-token-keys';

export interface ServiceDefinition {
  readonly name: ServiceName;
  readonly config: CommonConfig;
  /** Scopes of the service's own token, for its calls to other services. */
  readonly scopes: readonly ServiceScope[];
  /** JetStream streams the service writes or reads; created or updated at start. */
  readonly streams: readonly StreamName[];
  readonly logsMaxAgeDays?: number;
  /** The service's own module, built once the platform context exists. */
  module(context: PlatformContext): DynamicModule | Type;
  readonly errorMappers?: readonly ErrorMapper[];
  /** A provider of the service's module whose `RequestHooks` run around each of its requests, if it needs them. */
  readonly requestHooks?: Type<RequestHooks>;
}

export interface RunningService {
  readonly app: INestApplication;
  readonly context: PlatformContext;
  /** The HTTP port actually bound (HTTP_PORT=0 picks a free one). */
  readonly httpPort: number;
  close(): Promise<void>;
}

@Global()
@Module({})
class PlatformCoreModule {
  static forContext(context: PlatformContext): DynamicModule {
    return {
      module: PlatformCoreModule,
      providers: [{ provide: PlatformContext, useValue: context }],
      exports: [PlatformContext],
    };
  }
}

async function connectNats(definition: ServiceDefinition): Promise<NatsConnection> {
  return connect({
    servers: urlList(definition.config.natsUrl),
    name: definition.name,
    // TLS and the service's own credential (libs/config refuses production without them).
    ...natsConnectionOptions(definition.config),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    // Stack traces captured per request cost several per cent of a service's CPU.
    noAsyncTraces: true,
  });
}

/** Tracks whether the shared connection is currently connected, for `/readyz`. */
function watchConnection(connection: NatsConnection): () => boolean {
  let connected = true;
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') connected = false;
      if (status.type === 'reconnect') connected = true;
    }
  })();
  return () => connected && !connection.isClosed();
}

/** Boots one service: NATS, streams, auth, the Nest app with its plain-JSON NATS transport, and HTTP health/metrics. */
export async function startService(
  definition: ServiceDefinition,
  options: { logDestination?: DestinationStream } = {},
): Promise<RunningService> {
  const { config } = definition;
  const startDeadlineAt = Date.now() + config.startTimeoutMs;
  const logger = createLogger(definition.name, config.logLevel, options.logDestination);
  const { verifier, signer } = await serviceTokenKeys(definition);
  const nats = await connectNats(definition);
  let stopJwksReload: () => void = () => undefined;
  try {
    stopJwksReload = reloadJwks(definition, verifier, logger);
    await ensureStreams(nats, definition.streams, {
      subjectPrefix: config.subjectPrefix,
      replicas: config.jetStreamReplicas,
      logsMaxAgeDays: definition.logsMaxAgeDays,
      deadlineAt: startDeadlineAt,
      onRetry: (error, delayMs) =>
        logger.warn({ err: error, delayMs }, 'JetStream not ready for stream setup; retrying'),
    });
    const isConnected = watchConnection(nats);
    const readiness = new Readiness();
    readiness.register('nats', () => Promise.resolve(isConnected()));
    const tokens = new ServiceTokenIssuer(signer, definition.name, definition.scopes, config.serviceTokenIssuer);
    const services = new ServiceClient(nats, config.subjectPrefix, tokens);
    const metrics = createMetricsRegistry(definition.name);
    const context = new PlatformContext(
      definition.name,
      config,
      nats,
      logger,
      readiness,
      metrics,
      services,
      startDeadlineAt,
    );

    @Module({
      imports: [
        LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false, quietReqLogger: true } }),
        PlatformCoreModule.forContext(context),
        definition.module(context),
      ],
      controllers: [HealthController],
    })
    class ServiceRootModule {}

    const app = await NestFactory.create(ServiceRootModule, { bufferLogs: true, abortOnError: false });
    app.useLogger(app.get(NestPinoLogger));
    // A hybrid app's microservice takes its global guard and filter from the app (inheritAppConfig).
    const hooks: RequestHooks = definition.requestHooks ? app.get(definition.requestHooks) : {};
    app.useGlobalGuards(new BearerAuthGuard(verifier, hooks));
    app.useGlobalFilters(
      new RpcErrorFilter(definition.errorMappers, app.getHttpAdapter(), { hooks, subjectPrefix: config.subjectPrefix }),
    );
    const dropped = new Counter({
      name: `${definition.name}_requests_dropped_total`,
      help: 'Requests dropped unanswered before any handler ran, by reason (reply_subject: not an inbox)',
      labelNames: ['reason'],
      registers: [metrics],
    });
    const strategy = new PlatformNatsServer({
      connection: nats,
      queue: definition.name,
      subjectPrefix: config.subjectPrefix,
      replyPrefixes: config.replyPrefixes,
      requests: new RequestMetrics(definition.name, metrics),
      onDropped: ({ subject, reply, reason }) => {
        dropped.inc({ reason });
        logger.warn({ subject, reply, reason }, 'request dropped: its reply subject is not an inbox');
      },
    });
    app.connectMicroservice<MicroserviceOptions>({ strategy }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    // A service its NATS user may not subscribe for would run deaf: stop, naming the subjects refused.
    await strategy.confirmSubscribed().catch(async (error: unknown) => {
      await app.close();
      throw error;
    });
    await app.listen(config.httpPort).catch(async (error: unknown) => {
      // The HTTP server never listened, so closing it fails too; the microservice and modules still stop.
      await app.close().catch(() => undefined);
      // A port another process holds is a setting to change, said as one.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      const hint =
        `HTTP_PORT ${config.httpPort} is already in use (another service, or an earlier run still listening?); ` +
        'set HTTP_PORT to a free port';
      logger.error({ httpPort: config.httpPort }, hint);
      throw new ConfigError([hint]);
    });
    const httpPort = (app.getHttpServer().address() as AddressInfo).port;
    logger.info({ httpPort, subjectPrefix: config.subjectPrefix }, `${definition.name} service ready`);
    return {
      app,
      context,
      httpPort,
      async close() {
        stopJwksReload();
        await app.close();
        await nats.drain().catch(() => undefined);
      },
    };
  } catch (error) {
    stopJwksReload();
    await nats.close();
    throw error;
  }
}

/** A service's exit codes, as the CLI's table has them: a bad setting is 2, any other failure to start 1. */
export const SERVICE_EXIT = { FAILED: 1, BAD_SETTING: 2 } as const;

/** The `main.ts` of every service: start, stop cleanly on SIGTERM/SIGINT, and exit non-zero on a bad configuration. */
export function runService(load: () => ServiceDefinition): void {
  let definition: ServiceDefinition;
  try {
    definition = load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(SERVICE_EXIT.BAD_SETTING);
    }
    throw error;
  }
  startService(definition).then(
    (running) => {
      const stop = (signal: string) => {
        running.context.logger.info({ signal }, 'shutting down');
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    },
    (error: unknown) => {
      process.stderr.write(`${definition.name} failed to start: ${(error as Error).message}\n`);
      process.exit(error instanceof ConfigError ? SERVICE_EXIT.BAD_SETTING : SERVICE_EXIT.FAILED);
    },
  );
}
