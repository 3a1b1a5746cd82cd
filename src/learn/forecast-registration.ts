/**
 * @module learn/forecast-registration
 * Registers the learned forecasters in the `forecasters` registry (importing this module is
 * enough; the composition root and the bench do). Kept apart from `forecast/builtin.ts` because
 * src/forecast must not depend on src/learn (tfjs).
 *
 * - `learned-quantile`: direct multi-horizon quantile MLP in tfjs (`quantile-forecaster.ts`).
 */
import { forecasters } from '../forecast/forecaster.js';

import { QuantileMlpForecaster } from './quantile-forecaster.js';

forecasters.register('learned-quantile', () => new QuantileMlpForecaster());
