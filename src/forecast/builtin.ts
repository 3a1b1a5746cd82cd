/**
 * @module forecast/builtin
 * Registers the built-in forecasters (each file registers itself on import). The learned ones
 * register from src/learn/forecast-registration.ts, imported by the composition root.
 */
import './naive.js';
import './seasonal-naive.js';
import './holt-winters.js';
