/**
 * @module api/routes/ui
 * The operator dashboard at `/ui`: static files from src/ui/ (plain HTML, CSS and one browser ES
 * module; no build step) and uPlot's browser bundle from node_modules, at `/ui/vendor/`. The
 * files hold no data and are public; the page asks for a token and calls the /v1 API with it.
 * Every response carries a strict Content-Security-Policy (scripts, styles and connections to
 * this origin only, no inline script or style), nosniff, no framing and no referrer.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
} as const;

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/** Where src/ui/ is: beside this module's folder (sources run through tsx, never bundled). */
const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

function uplotDist(): string {
  return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
}

export interface UiOptions {
  /** Folder of index.html, app.js and style.css (default src/ui/). */
  readonly dir?: string;
}

/** Reads every file once at registration: a missing one stops the app from building. */
export const uiRoutes: FastifyPluginAsync<UiOptions> = async (app, options) => {
  const dir = options.dir ?? UI_DIR;
  const vendor = uplotDist();
  const load = async (path: string, type: string): Promise<Asset> => ({
    body: await readFile(path),
    type,
  });
  const index = await load(join(dir, 'index.html'), TYPES.html);
  const assets = new Map<string, Asset>([
    ['/ui/app.js', await load(join(dir, 'app.js'), TYPES.js)],
    ['/ui/style.css', await load(join(dir, 'style.css'), TYPES.css)],
    ['/ui/vendor/uPlot.iife.min.js', await load(join(vendor, 'uPlot.iife.min.js'), TYPES.js)],
    ['/ui/vendor/uPlot.min.css', await load(join(vendor, 'uPlot.min.css'), TYPES.css)],
  ]);

  // Encapsulated: only this plugin's routes get these headers (the API answers JSON).
  app.addHook('onSend', (_req, reply, payload, done) => {
    void reply.headers(UI_SECURITY_HEADERS);
    // Revalidate on every load so an upgraded engine serves its own page.
    void reply.header('cache-control', 'no-cache');
    done(null, payload);
  });

  const serve = (path: string, asset: Asset) =>
    app.get(path, { schema: { hide: true } }, (_req, reply) =>
      reply.type(asset.type).send(asset.body),
    );
  serve('/ui', index);
  serve('/ui/', index);
  for (const [path, asset] of assets) serve(path, asset);
};
