/**
 * @module api/app
 * Builds the fastify application around an engine (routes, schemas, OpenAPI, errors) without
 * listening, so tests use `app.inject()` (fastify's Testing guide); ./server.ts listens.
 */
import Fastify from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Engine } from '../engine.js';
import type { Logger } from '../log.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { edsRoutes } from './routes/eds.js';
import { forecastRoutes } from './routes/forecast.js';
import { healthRoutes } from './routes/health.js';
import { policyRoutes } from './routes/policy.js';
import { statsRoutes } from './routes/stats.js';
import { telemetryRoutes } from './routes/telemetry.js';

export interface AppOptions {
  readonly engine: Engine;
  readonly logger?: Logger | false;
  /** Body limit of POST /v1/telemetry; every other route takes at most 1 MiB. */
  readonly telemetryBodyLimitBytes: number;
}

export async function buildApp(options: AppOptions) {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: 1024 * 1024,
    // Reject prototype-pollution keys in JSON bodies with a 400 instead of stripping them silently.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Prescient',
        description: 'Adaptive policy engine for caches and load balancers',
        version: '0.1.0',
      },
      tags: [
        { name: 'health', description: 'Probes and metrics' },
        { name: 'telemetry', description: 'Telemetry over HTTP for clients without NATS' },
        { name: 'policy', description: 'Published policies' },
        { name: 'forecast', description: 'Traffic forecasts per pool and cache node' },
        { name: 'stats', description: 'Engine statistics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  const { engine } = options;
  await app.register(healthRoutes, { engine });
  await app.register(statsRoutes, { engine });
  await app.register(policyRoutes, { engine });
  await app.register(edsRoutes, { engine });
  await app.register(forecastRoutes, { engine });
  await app.register(telemetryRoutes, { engine, bodyLimitBytes: options.telemetryBodyLimitBytes });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
