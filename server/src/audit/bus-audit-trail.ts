import { randomUUID } from "node:crypto";
import { AUDIT_ACTION_PATTERN, auditSubject, type Bus, type Logger } from "@vigil/common";
import type { AuditChange, AuditRecord, AuditTrail } from "./types";

/** Largest audit record accepted (before/after of a ruleset can be big; the bus caps it too). */
export const MAX_AUDIT_RECORD_BYTES = 512 * 1024;

const encoder = new TextEncoder();

/**
 * Records each change as one JSON message on the VIGIL_AUDIT stream
 * (vigil.audit.<action>), resolving once JetStream has stored it; the record
 * id is the message id, so a retried record is stored once.
 */
export class BusAuditTrail implements AuditTrail {
  constructor(
    private readonly bus: Bus,
    private readonly serverId: string,
    private readonly logger: Logger,
  ) {}

  async record(change: AuditChange): Promise<AuditRecord> {
    if (!AUDIT_ACTION_PATTERN.test(change.action)) {
      throw new TypeError(`audit action "${change.action.slice(0, 80)}" must match ${AUDIT_ACTION_PATTERN}`);
    }
    const record: AuditRecord = {
      id: randomUUID(),
      time: new Date().toISOString(),
      serverId: this.serverId,
      ...change,
    };
    let data = encoder.encode(JSON.stringify(record));
    const limit = Math.min(MAX_AUDIT_RECORD_BYTES, this.bus.maxMessageBytes() - 1024);
    if (data.byteLength > limit) {
      // The change happened; its record must not be lost for being big: keep who/what/when.
      const { before: _b, after: _a, ...rest } = record;
      data = encoder.encode(
        JSON.stringify({ ...rest, truncated: `before/after omitted (${data.byteLength} bytes)` }),
      );
    }
    await this.bus.publish(auditSubject(change.action), data, { msgId: `audit:${record.id}` });
    this.logger.info(
      { audit: record.action, target: record.target, actor: record.actor.id, auditId: record.id },
      "audit record",
    );
    return record;
  }
}
