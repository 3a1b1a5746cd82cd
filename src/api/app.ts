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
import { errorHandlers } from './errors.js';
import { edsRoutes } from './routes/eds.js';
import { forecastRoutes } from './routes/forecast.js';
import { healthRoutes } from './routes/health.js';
import { overviewRoutes } from './routes/overview.js';
import { policyRoutes } from './routes/policy.js';
import { statsRoutes } from './routes/stats.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { controlRoutes } from './routes/control.js';
import { explainRoutes } from './routes/explain.js';
import { modelRoutes } from './routes/models.js';
import { authPlugin } from './auth.js';
import { uiRoutes } from './routes/ui.js';

export interface AppOptions {
  readonly engine: Engine;
  readonly logger?: Logger | false;
  /** Body limit of POST /v1/telemetry; every other route takes at most 1 MiB. */
  readonly telemetryBodyLimitBytes: number;
}

export async function buildApp(options: AppOptions) {
  // Every error answer is counted by status and code: prescient_http_errors_total.
  const { errorHandler, notFoundHandler } = errorHandlers((status, code) =>
    options.engine.metrics.httpErrors.inc({ status: String(status), code }),
  );
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // A malformed URL (`%zz`, an encoded surrogate) or an over-long path parameter gets our
    // error shape too, instead of fastify's own body.
    frameworkErrors: (err, req, reply) => void errorHandler(err, req, reply),
    bodyLimit: 1024 * 1024,
    // Reject prototype-pollution keys in JSON bodies with a 400 instead of stripping them silently.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(authPlugin, {
    tokens: options.engine.control.tokens,
    writeRatePerMin: options.engine.settings.writeRatePerMin,
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Prescient',
        description: 'Adaptive policy engine for caches and load balancers',
        version: '0.1.0',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'health', description: 'Probes and metrics' },
        { name: 'telemetry', description: 'Telemetry over HTTP for clients without NATS' },
        { name: 'policy', description: 'Published policies' },
        { name: 'forecast', description: 'Traffic forecasts per pool and cache node' },
        { name: 'stats', description: 'Engine statistics' },
        { name: 'control', description: 'Overrides, audit log, clients and API tokens' },
        { name: 'models', description: 'Model registry: champion, challenger, retrain, promote' },
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
  await app.register(controlRoutes, { engine });
  await app.register(explainRoutes, { engine });
  await app.register(modelRoutes, { engine });
  await app.register(overviewRoutes, { engine });
  await app.register(uiRoutes);
  await app.register(telemetryRoutes, { engine, bodyLimitBytes: options.telemetryBodyLimitBytes });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
