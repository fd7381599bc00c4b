/**
 * The zod the Lambda handlers' schemas are written with: `zod/mini`, zod's functional API, with
 * its English messages. Import it as a namespace (`import * as z from './zod'`) and esbuild keeps
 * only the validators a handler calls: the classic chainable API drags most of zod in, and a
 * named `{ z }` import drags in all of it, every locale included (about 250 KB of a minified
 * bundle). zod/mini loads no locale of its own, hence `en` here, so messages read as zod's usual
 * ones ("Too big: expected string to have <=128 characters").
 * rules.ts and outputs.ts, read by the infrastructure code, the CLI and the local mode only, keep
 * the classic API.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
