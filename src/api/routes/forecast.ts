/**
 * @module api/routes/forecast
 * Traffic forecasts per series (`pool.<pool>`, `node.<node>`): recent history, the forecast with
 * its 80 % interval, the spike flag and, for cache nodes, the pre-warm hint.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { NotFoundError } from '../../errors.js';
import { POOL_PATTERN } from '../../telemetry/events.js';

export const forecastRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  app.get(
    '/v1/forecasts',
    { schema: { tags: ['forecast'], summary: 'Series with a forecast, and their latest origin' } },
    () => ({
      series: engine.forecasts.views().map((v) => ({
        series: v.series,
        originMs: v.originMs,
        reason: v.reason,
        spike: v.spike?.active ?? false,
      })),
    }),
  );

  app.get(
    '/v1/forecasts/:series',
    {
      schema: {
        tags: ['forecast'],
        summary: 'History, forecast with p10/p50/p90, spike flag and pre-warm hint of a series',
        params: Type.Object({
          series: Type.String({
            pattern: POOL_PATTERN,
            maxLength: 600,
            description: 'pool.<pool> or node.<node>',
          }),
        }),
      },
    },
    (req) => {
      const view = engine.forecast(req.params.series);
      if (!view) {
        throw new NotFoundError(
          `no forecast for series "${req.params.series}" yet: series are pool.<pool> and node.<node>, forecast once they have two complete steps`,
        );
      }
      return {
        series: view.series,
        stepSec: view.stepSec,
        unit: view.unit,
        model: view.model,
        reason: view.reason,
        text: view.text,
        history: view.history.map((value, i) => ({
          ts: view.historyStartMs + i * view.stepSec * 1000,
          value,
        })),
        forecast: view.points,
        spike: view.spike,
        prewarm: view.prewarm,
      };
    },
  );
  await Promise.resolve();
};
