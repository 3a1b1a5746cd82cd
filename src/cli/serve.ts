/**
 * @module cli/serve
 * `prescient serve`: the engine with its REST API, configured from the environment (README).
 */
import { loadSettings, secretValues } from '../config/settings.js';
import { createLogger } from '../log.js';
import { closeOnSignals, startServer } from '../api/server.js';
import { UsageError } from '../errors.js';

export async function serve(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write(
      'usage: prescient serve\n\nConfigured by environment variables only; see README "Configuration".\n',
    );
    return 0;
  }
  if (args.length > 0)
    throw new UsageError(
      `serve takes no arguments (got ${args.join(' ')}); configure it with environment variables`,
    );
  const settings = loadSettings();
  const log = createLogger(settings.logLevel, 'prescient', { secrets: secretValues(settings) });
  const server = await startServer(settings, log);
  closeOnSignals(server, log);
  // Keep running until a signal closes the server.
  await new Promise<never>(() => undefined);
  return 0;
}
