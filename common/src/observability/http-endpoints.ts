import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthReport {
  healthy: boolean;
  /** Per-dependency state, e.g. { bus: "connected", sink: "ok" }. */
  checks: Record<string, string>;
}

export interface ObservabilityServerOptions {
  host: string;
  port: number;
  registry: Registry;
  health: () => HealthReport;
}

export interface ObservabilityServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves GET /healthz (200 or 503 with the checks as JSON) and GET /metrics
 * (Prometheus text) for programs that have no other HTTP server.
 */
export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET") {
      response.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (path === "/healthz") {
      const report = options.health();
      response
        .writeHead(report.healthy ? 200 : 503, { "content-type": "application/json" })
        .end(JSON.stringify(report));
      return;
    }
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": options.registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
      return;
    }
    response.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
