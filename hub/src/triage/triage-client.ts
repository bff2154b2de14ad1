// Sends one payload to an OpenAI-compatible chat completions endpoint and
// reads back findings. Retries timeouts, 429s, 5xx, connection failures and
// unparseable answers with exponential backoff (a 429's Retry-After when
// longer); gives up after maxAttempts and reports the analysis as missing.
// It never throws: reporting must not wait on, or fail because of, triage.
// Every request is logged with its size and outcome, never its content or key.

import type { Logger } from "@vigil/common";
import OpenAI, { APIConnectionError, APIError } from "openai";
import { z } from "zod";
import type { Analysis } from "../reports/report-store";

export const TRIAGE_PROMPT = [
  "You are a security analyst triaging activity from Linux hosts watched by a host intrusion detection system.",
  "You receive one JSON document: either a periodic activity report (counts of event types, top commands,",
  "new executables, new listening ports, new outbound destinations, active users, alerts by rule, trend)",
  "or a single alert with its process context. Some values may be placeholders such as 'user.name#2'.",
  "Look for: unusual command patterns; privilege escalation; exfiltration-like sequences (archiving then",
  "outbound transfer, unusual destinations or volumes); anomalous network access (new listeners, unexpected",
  "ports or destinations); suspicious file operations (credential files, persistence locations, droppers).",
  'Answer with JSON only: {"summary": string, "findings": [{"category": "commands" | "privilege_escalation" |',
  '"exfiltration" | "network" | "file_operations" | "other", "severity": "low" | "medium" | "high" | "critical",',
  '"description": string, "evidence": [string]}]}. An empty findings list means nothing stands out.',
].join(" ");

const findingSchema = z.object({
  category: z.enum([
    "commands",
    "privilege_escalation",
    "exfiltration",
    "network",
    "file_operations",
    "other",
  ]),
  severity: z.enum(["low", "medium", "high", "critical"]),
  description: z.string().max(4000),
  evidence: z.array(z.string().max(1000)).max(50).default([]),
});
const answerSchema = z.object({ summary: z.string().max(8000), findings: z.array(findingSchema).max(100) });
export type TriageAnswer = z.infer<typeof answerSchema>;

export interface TriageClientOptions {
  baseUrl: string;
  model: string;
  apiKey: string;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseDelayMs: number;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Longest wait a Retry-After may ask for before the next attempt. */
const MAX_RETRY_AFTER_MS = 300_000;

class UnparseableAnswer extends Error {}

export class TriageClient {
  private readonly client: OpenAI;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: TriageClientOptions) {
    // Retries are ours (logged, backoff, then "missing"), not the client's.
    this.client = new OpenAI({
      baseURL: options.baseUrl,
      apiKey: options.apiKey,
      timeout: options.timeoutMs,
      maxRetries: 0,
    });
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? Date.now;
  }

  get model(): string {
    return this.options.model;
  }

  async analyse(subject: string, payload: Record<string, unknown>): Promise<Analysis> {
    const body = JSON.stringify(payload);
    const messages = [
      { role: "system" as const, content: TRIAGE_PROMPT },
      { role: "user" as const, content: body },
    ];
    // The body as the client serialises it, so the logged size is the size sent.
    const request = { model: this.options.model, messages, temperature: 0 };
    const requestBytes = Buffer.byteLength(JSON.stringify(request));
    let reason = "not tried";
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const started = this.now();
      try {
        const completion = await this.client.chat.completions.create(request);
        const answer = parseAnswer(completion.choices[0]?.message?.content);
        this.options.logger.info(
          { subject, requestBytes, attempt, ms: this.now() - started, findings: answer.findings.length },
          "triage request answered",
        );
        return {
          subject,
          status: "done",
          summary: answer.summary,
          findings: answer.findings,
          model: this.options.model,
          attempts: attempt,
          requestBytes,
          createdAt: new Date(this.now()).toISOString(),
        };
      } catch (error) {
        reason = describe(error);
        const retry = retryable(error);
        this.options.logger.warn(
          { subject, requestBytes, attempt, ms: this.now() - started, reason, retry },
          "triage request failed",
        );
        if (!retry || attempt === this.options.maxAttempts) break;
        await this.sleep(this.backoff(attempt, error));
      }
    }
    return {
      subject,
      status: "missing",
      reason,
      model: this.options.model,
      attempts: this.options.maxAttempts,
      requestBytes,
      createdAt: new Date(this.now()).toISOString(),
    };
  }

  /** base × 2^(attempt-1), or the server's Retry-After when longer (bounded). */
  backoff(attempt: number, error: unknown): number {
    const exponential = this.options.retryBaseDelayMs * 2 ** (attempt - 1);
    const header = error instanceof APIError ? error.headers?.get("retry-after") : undefined;
    const seconds = header ? Number(header) : Number.NaN;
    const asked = Number.isFinite(seconds) ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : 0;
    return Math.max(exponential, asked);
  }
}

function parseAnswer(content: string | null | undefined): TriageAnswer {
  if (!content) throw new UnparseableAnswer("the answer has no content");
  // Models often wrap JSON in a code fence.
  const text = content.replace(/^\s*```(?:json)?\s*/i, "").replace(/\s*```\s*$/, "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UnparseableAnswer("the answer is not JSON");
  }
  const checked = answerSchema.safeParse(parsed);
  if (!checked.success) {
    throw new UnparseableAnswer(
      `the answer does not have the asked shape: ${checked.error.issues[0]?.message}`,
    );
  }
  return checked.data;
}

function retryable(error: unknown): boolean {
  if (error instanceof UnparseableAnswer || error instanceof APIConnectionError) return true;
  if (error instanceof APIError)
    return error.status === 429 || error.status === 408 || (error.status ?? 0) >= 500;
  return false;
}

/** Status and kind only: an error body may echo the request. */
function describe(error: unknown): string {
  if (error instanceof UnparseableAnswer) return error.message;
  if (error instanceof APIConnectionError) return `${error.constructor.name}: no answer (${error.message})`;
  if (error instanceof APIError) return `HTTP ${error.status ?? "?"} (${error.constructor.name})`;
  return error instanceof Error ? error.message : String(error);
}
