/**
 * @module Copies the browser files the Worker serves as static assets from node_modules into public/vendor/
 * (git-ignored): Swagger UI for GET /docs. Runs on `npm install`/`npm ci` (postinstall), so `npm start`,
 * `wrangler dev` and `wrangler deploy` always find them, and the pages load nothing from a CDN.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const swagger = dirname(require.resolve('swagger-ui-dist/package.json'));
const out = join(root, 'public', 'vendor', 'swagger-ui');
mkdirSync(out, { recursive: true });
for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'NOTICE']) {
  copyFileSync(join(swagger, file), join(out, file));
}
console.log(`vendor-assets: Swagger UI ${require('swagger-ui-dist/package.json').version} → public/vendor/swagger-ui`);
