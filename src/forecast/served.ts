/**
 * @module forecast/served
 * The fit functions the engine's ForecastService uses: the served model is the selector over
 * every registered forecaster (chosen by rolling backtest on the training part, see
 * ./selector.ts), so a learned forecaster registered by the composition root takes part; the
 * fallback, while a series is short, is the daily seasonal naive (naive without a season).
 */
import './builtin.js';
import { forecasters } from './forecaster.js';
import { SelectorForecaster } from './selector.js';
import type { FitFn } from './service.js';

/** Candidates: every registered forecaster except the selector itself. */
function candidates() {
  return forecasters
    .ids()
    .filter((id) => id !== 'served')
    .map((id) => forecasters.create(id, undefined));
}

export const servedFit: FitFn = async (values, trainEnd, info, h) => {
  const selector = new SelectorForecaster(candidates());
  const fitted = await selector.fit(values, trainEnd, info, h);
  const chosen = fitted.selection.models.join('+');
  return { fitted, model: { id: 'served', version: `${fitted.selection.rule}:${chosen}` } };
};

export const fallbackFit: FitFn = async (values, trainEnd, info, h) => {
  const id = info.season > 0 && trainEnd > info.season ? 'seasonal-naive' : 'naive';
  const fitted = await forecasters.create(id, undefined).fit(values, trainEnd, info, h);
  return { fitted, model: { id, version: 'fallback' } };
};
