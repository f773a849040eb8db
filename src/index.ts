/** @module The Worker's entry: the edge app (src/app.ts) as the module's fetch handler. */
import { app } from './app.js';

export { app, type AppType } from './app.js';

export default app;
