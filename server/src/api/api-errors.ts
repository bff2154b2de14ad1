import type { FastifyError, FastifySchemaValidationError } from "fastify";
import type { ApiApp } from "./api-app";

// Every error leaves the API as { error, message }: a failed schema check is
// a 400 naming the field ("body.role: must be one of viewer, operator,
// admin"), other client errors keep their status, and a server fault is a
// logged 500 that tells the client nothing about the internals.

function fieldOf(context: string | undefined, issue: FastifySchemaValidationError): string {
  const path = issue.instancePath.replace(/^\//, "").replaceAll("/", ".");
  const params = issue.params as Record<string, unknown>;
  const leaf =
    typeof params.missingProperty === "string"
      ? params.missingProperty
      : typeof params.additionalProperty === "string"
        ? params.additionalProperty
        : undefined;
  return [context, path, leaf].filter((part) => part !== undefined && part !== "").join(".");
}

function problemOf(issue: FastifySchemaValidationError): string {
  const params = issue.params as Record<string, unknown>;
  if (typeof params.missingProperty === "string") return "is required";
  if (typeof params.additionalProperty === "string") return "is not an accepted field";
  if (Array.isArray(params.allowedValues)) return `must be one of ${params.allowedValues.join(", ")}`;
  return issue.message ?? "is invalid";
}

/** "body.role: must be one of viewer, operator, admin" for the first failed check. */
export function validationMessage(error: FastifyError): string {
  const issue = error.validation?.[0];
  if (!issue) return error.message;
  const field = fieldOf(error.validationContext, issue) || (error.validationContext ?? "request");
  return `${field}: ${problemOf(issue)}`;
}

const CODES_BY_STATUS: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  406: "not_acceptable",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
};

export function installErrorHandlers(app: ApiApp): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      return reply.code(400).send({ error: "bad_request", message: validationMessage(error) });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const headers = (error as FastifyError & { headers?: Record<string, string> }).headers;
      if (headers) reply.headers(headers);
      return reply
        .code(status)
        .send({ error: CODES_BY_STATUS[status] ?? "client_error", message: error.message });
    }
    request.log.error(
      { err: error, url: request.routeOptions.url, method: request.method },
      "API request failed",
    );
    return reply
      .code(500)
      .send({ error: "internal_error", message: "internal error (logged on the server)" });
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` }),
  );
}
