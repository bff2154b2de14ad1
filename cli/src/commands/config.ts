import { readFileSync } from "node:fs";
import { type ApiOptions, apiRequest } from "./api-client";

// `vigil config list|show|set|delete`: agent config documents (fleet default,
// group:<name>, label:<k>=<v>) through the REST API (viewer to read, operator to change).

interface ConfigDocument {
  name: string;
  target: string;
  priority: number;
  description: string;
  policy: unknown;
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

const path = (name: string) => `/api/v1/agent-config/${encodeURIComponent(name)}`;

function line(document: ConfigDocument): string {
  return `${document.name.padEnd(24)} ${document.target.padEnd(32)} priority ${String(document.priority).padEnd(6)} revision ${document.revision}  ${document.updatedAt} by ${document.updatedBy}\n`;
}

export async function listConfig(options: ApiOptions): Promise<void> {
  const { documents } = await apiRequest<{ documents: ConfigDocument[] }>(
    options,
    "GET",
    "/api/v1/agent-config",
  );
  for (const document of documents) {
    process.stdout.write(options.json ? `${JSON.stringify(document)}\n` : line(document));
  }
}

export async function showConfig(options: ApiOptions, name: string): Promise<void> {
  const document = await apiRequest<ConfigDocument>(options, "GET", path(name));
  process.stdout.write(`${JSON.stringify(document, null, options.json ? undefined : 2)}\n`);
}

/** `file` is a JSON document { target, priority?, description?, policy } ("-" reads stdin). */
export async function setConfig(options: ApiOptions, name: string, file: string): Promise<void> {
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: not a readable JSON document (${(error as Error).message})`);
  }
  const document = await apiRequest<ConfigDocument>(options, "PUT", path(name), body);
  process.stdout.write(options.json ? `${JSON.stringify(document)}\n` : line(document));
}

export async function deleteConfig(options: ApiOptions, name: string): Promise<void> {
  await apiRequest<unknown>(options, "DELETE", path(name));
  process.stdout.write(options.json ? `${JSON.stringify({ deleted: name })}\n` : `deleted ${name}\n`);
}
