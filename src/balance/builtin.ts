/**
 * @module balance/builtin
 * Registers every built-in weigher (import for its side effect).
 */
import './equal-weigher.js';
import './inverse-latency-weigher.js';
import './peak-ewma-weigher.js';
import './grpc-wrr-weigher.js';
import './predictive-weigher.js';
