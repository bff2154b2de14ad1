import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect, type NodeConnectionOptions } from "@nats-io/transport-node";
import { ALERT_LEVELS, ALERTS_STREAM, type AlertLevel, type EcsDocument } from "@vigil/common";
import type { NatsSettings } from "../settings/cli-config";
import { type AlertFilters, alertIdOf, printAlerts } from "./alerts";

// `vigil alerts --follow --nats`: an ordered consumer on the VIGIL_ALERTS
// stream (what hubs publish on vigil.alerts.<level>). The stream keeps each
// alert once (hubs publish with the alert id as message id) and an ordered
// consumer delivers every stored message in sequence, recreating itself on a
// gap, so nothing is skipped or repeated; a bounded set of recent alert ids
// also drops a copy published again after the stream's duplicate window.
// Level, rule, host and text filters are applied here (nats-server 2.9 has
// one filter subject per consumer).

export interface NatsFollowOptions extends AlertFilters {
  json: boolean;
  nats: NatsSettings;
  signal?: AbortSignal;
  /** Called once the consumer is in place (tests publish after it). */
  onReady?: () => void;
}

/** Recent alert ids remembered against re-publication. */
const SEEN_IDS = 100_000;

function matches(alert: EcsDocument, subjectLevel: string, options: NatsFollowOptions): boolean {
  const rank = (level: string) => ALERT_LEVELS.indexOf(level as AlertLevel);
  if (options.level && rank(subjectLevel) < rank(options.level)) return false;
  if (options.levels && !options.levels.includes(subjectLevel as AlertLevel)) return false;
  const rule = (alert.rule ?? {}) as EcsDocument;
  if (options.rule && rule.id !== options.rule) return false;
  const host = (alert.host ?? {}) as EcsDocument;
  if (options.host && host.name !== options.host) return false;
  if (options.text) {
    const needle = options.text.toLowerCase();
    const process = (alert.process ?? {}) as EcsDocument;
    const haystack = [rule.name, alert.message, process.command_line, host.name];
    if (!haystack.some((value) => typeof value === "string" && value.toLowerCase().includes(needle)))
      return false;
  }
  return true;
}

function connectionOptions(settings: NatsSettings): NodeConnectionOptions {
  return {
    servers: settings.servers,
    name: "vigil-cli",
    reconnect: true,
    maxReconnectAttempts: -1,
    ...(settings.token ? { token: settings.token } : {}),
    ...(settings.user ? { user: settings.user, pass: settings.password } : {}),
    ...(settings.caFile ? { tls: { caFile: settings.caFile } } : {}),
  };
}

export async function followAlertsNats(options: NatsFollowOptions): Promise<void> {
  if (options.until) throw new Error("--until: cannot be combined with --follow");
  const nc = await connect(connectionOptions(options.nats)).catch((error: Error) => {
    throw new Error(
      `cannot reach NATS at ${options.nats.servers.join(", ")}: ${error.message}; check --nats, VIGIL_NATS_URL or nats: in ~/.config/vigil/cli.yaml (and its credentials)`,
    );
  });
  try {
    const js = jetstream(nc);
    const consumer = await js.consumers
      .get(ALERTS_STREAM, {
        filter_subjects: "vigil.alerts.>",
        ...(options.since
          ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since }
          : { deliver_policy: DeliverPolicy.New }),
      })
      .catch((error: Error) => {
        throw new Error(
          `NATS: cannot follow stream ${ALERTS_STREAM} (${error.message}); has a hub started there?`,
        );
      });
    const messages = await consumer.consume();
    const stop = () => messages.stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    if (options.signal?.aborted) stop();
    options.onReady?.();
    const seen = new Set<string>();
    let header = true;
    for await (const message of messages) {
      let alert: EcsDocument;
      try {
        alert = message.json<EcsDocument>();
      } catch {
        process.stderr.write(
          `vigil: skipped a message on ${message.subject} that is not JSON (stream sequence ${message.seq})\n`,
        );
        continue;
      }
      const id = alertIdOf(alert);
      if (id && seen.has(id)) continue;
      if (id) {
        seen.add(id);
        // A Set iterates in insertion order: the first id is the oldest.
        if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value as string);
      }
      if (!matches(alert, message.subject.split(".").at(-1) ?? "", options)) continue;
      printAlerts([alert], options.json, { header });
      header = false;
    }
    options.signal?.removeEventListener("abort", stop);
  } finally {
    await nc.close();
  }
}
