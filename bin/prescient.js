#!/usr/bin/env node
// The `prescient` command. Runs the TypeScript sources through tsx's loader, so `npm ci && npm start`
// needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
