import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { ApiApp } from "./api-app";

export const OPENAPI_PATH = "/api/v1/openapi.json";
export const DOCS_PREFIX = "/docs";

/** /api/v1/<tag>/...: the first path segment names a route's group in the docs. */
function tagOf(url: string): string {
  const match = /^\/api\/v1\/([^/:]+)/.exec(url);
  return match ? match[1] : "health";
}

/**
 * OpenAPI 3 document and interactive docs. Registered before any route, so
 * every route (including those added by later modules) is listed; a route
 * without tags is tagged by its path, and its required role is written into
 * its description and security.
 */
export async function registerApiDocs(app: ApiApp, version: string): Promise<void> {
  app.addHook("onRoute", (route) => {
    if (route.url.startsWith(DOCS_PREFIX) || route.url === OPENAPI_PATH) return;
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    const role = route.config?.role;
    route.schema = {
      ...schema,
      tags: (schema.tags as string[] | undefined) ?? [tagOf(route.url)],
      ...(role
        ? {
            description: [schema.description, `Role: ${role} or above.`].filter(Boolean).join("\n\n"),
            security: [{ bearerAuth: [] }],
          }
        : {}),
    };
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: "Vigil operator API",
        version,
        description:
          "Fleet, alerts, rules, agent config, tasks, tokens and audit. Every route but /healthz, /readyz and the docs needs `authorization: Bearer <token>`; each lists the least role it needs.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
