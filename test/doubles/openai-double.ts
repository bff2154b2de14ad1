// A loopback OpenAI-compatible chat completions endpoint (POST
// /v1/chat/completions) speaking the real request and response JSON, for
// the AI triage tests. It records every request (headers, parsed body,
// size) and answers with a chat.completion object whose message content a
// test chooses; fault knobs make the next requests fail with a status
// (429 with Retry-After, 5xx), hang past the client's timeout, or answer
// text that is not the asked JSON.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ChatRequest {
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
  body: {
    model: string;
    messages: Array<{ role: string; content: string }>;
    [key: string]: unknown;
  };
}

export type Fault =
  | { kind: "status"; status: number; retryAfterSeconds?: number }
  | { kind: "hang" }
  | { kind: "content"; content: string };

export class OpenAiDouble {
  readonly requests: ChatRequest[] = [];
  /** Content of a successful answer, from the request (default: no findings). */
  answer: (request: ChatRequest) => string = () =>
    JSON.stringify({ summary: "nothing unusual", findings: [] });
  private readonly faults: Fault[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private port = 0;

  private constructor() {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { message: String(error), type: "server_error" } }));
      });
    });
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<OpenAiDouble> {
    const double = new OpenAiDouble();
    await new Promise<void>((resolve) => double.server.listen(0, "127.0.0.1", resolve));
    double.port = (double.server.address() as AddressInfo).port;
    return double;
  }

  /** The base URL a client is configured with. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** The next requests meet these faults, in order. */
  failNext(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (request.method !== "POST" || request.url !== "/v1/chat/completions") {
      return json(response, 404, {
        error: {
          message: `Unknown request URL: ${request.method} ${request.url}`,
          type: "invalid_request_error",
        },
      });
    }
    if (request.headers.authorization === undefined) {
      return json(response, 401, {
        error: { message: "You didn't provide an API key.", type: "invalid_request_error" },
      });
    }
    let body: ChatRequest["body"];
    try {
      body = JSON.parse(raw.toString("utf8")) as ChatRequest["body"];
    } catch {
      return json(response, 400, {
        error: {
          message: "We could not parse the JSON body of your request.",
          type: "invalid_request_error",
        },
      });
    }
    if (typeof body.model !== "string" || !Array.isArray(body.messages) || body.messages.length === 0) {
      return json(response, 400, {
        error: { message: "'model' and 'messages' are required", type: "invalid_request_error" },
      });
    }
    const recorded: ChatRequest = { headers: { ...request.headers }, bytes: raw.length, body };
    this.requests.push(recorded);
    const fault = this.faults.shift();
    if (fault?.kind === "hang") return; // never answered: the client times out
    if (fault?.kind === "status") {
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) };
      const type = fault.status === 429 ? "rate_limit_exceeded" : "server_error";
      return json(response, fault.status, { error: { message: `injected ${fault.status}`, type } }, headers);
    }
    const content = fault?.kind === "content" ? fault.content : this.answer(recorded);
    const prompt = body.messages.reduce((sum, message) => sum + String(message.content).length, 0);
    json(response, 200, {
      id: `chatcmpl-double-${this.requests.length}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content, refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: {
        prompt_tokens: Math.ceil(prompt / 4),
        completion_tokens: Math.ceil(content.length / 4),
        total_tokens: Math.ceil((prompt + content.length) / 4),
      },
    });
  }
}

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}
