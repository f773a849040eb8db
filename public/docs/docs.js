/** @module Renders the Worker's own /openapi.json with Swagger UI (served from /vendor, no CDN); "Authorize" takes an API key. */
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
  displayRequestDuration: true,
});
