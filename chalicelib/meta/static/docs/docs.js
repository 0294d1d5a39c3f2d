// Swagger UI over this API's own document. A file, not an inline script: the page's
// Content-Security-Policy allows scripts from 'self' only.
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No call to the public validator: the page talks to this API only.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
