// Core Elasticsearch sink cases, run against the loopback double and, when
// ES_URL is set, against a real cluster. Everything is read back through the
// ES REST API (refresh, search, count), so both targets are checked the same way.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Client } from "@elastic/elasticsearch";
import { isVigilError } from "../../common/src/errors";
import type { ElasticsearchAuth } from "../../hub/src/sinks/elasticsearch-config";
import { ElasticsearchSink } from "../../hub/src/sinks/elasticsearch-sink";
import { ALERTS_INDEX_TEMPLATE_NAME } from "../../hub/src/sinks/index-template";
import { SinkWriteError } from "../../hub/src/sinks/sink-write-error";
import { makeAlert } from "./alert-fixture";

export interface ElasticsearchTarget {
  url: string;
  auth?: ElasticsearchAuth;
  caFile?: string;
}

export function defineElasticsearchSinkCoreCases(target: () => ElasticsearchTarget): void {
  let dataStream: string;
  let sink: ElasticsearchSink;
  let reader: Client;

  beforeEach(async () => {
    const { url, auth, caFile } = target();
    // A stream of its own per test: the template's vigil-alerts* pattern still applies.
    dataStream = `vigil-alerts-test-${randomBytes(4).toString("hex")}`;
    sink = new ElasticsearchSink({
      config: {
        nodes: [url],
        auth,
        caFile,
        dataStream,
        retryBaseDelayMs: 5,
        retryMaxDelayMs: 50,
        maxRetries: 4,
      },
    });
    reader = new Client({
      node: url,
      ...(auth ? { auth } : {}),
      ...(caFile ? { tls: { ca: readFileSync(caFile) } } : {}),
    });
    await sink.start();
  });

  afterEach(async () => {
    await reader.indices.deleteDataStream({ name: dataStream }, { ignore: [404] }).catch(() => undefined);
    await sink.close();
    await reader.close();
  });

  async function storedIds(): Promise<string[]> {
    await reader.indices.refresh({ index: dataStream });
    const result = await reader.search({
      index: dataStream,
      size: 100,
      sort: [{ "@timestamp": { order: "desc" } }],
    });
    return result.hits.hits.map((hit) => hit._id as string);
  }

  test("elasticsearch-sink - installs the vigil-alerts data stream template", async () => {
    const { index_templates } = await reader.indices.getIndexTemplate({ name: ALERTS_INDEX_TEMPLATE_NAME });
    const template = index_templates[0]?.index_template;
    expect(template?.index_patterns).toEqual(["vigil-alerts*"]);
    expect(template?.data_stream).toBeDefined();
    expect(template?.priority).toBe(500);
    const properties = template?.template?.mappings?.properties ?? {};
    expect(properties["@timestamp"]).toMatchObject({ type: "date" });
    expect(properties.destination).toMatchObject({ properties: { ip: { type: "ip" } } });
  });

  test("elasticsearch-sink - alerts land in the data stream and read back newest first", async () => {
    const alerts = [makeAlert({ seed: 1 }), makeAlert({ seed: 3 }), makeAlert({ seed: 2 })];
    await sink.write(alerts);
    const { data_streams } = await reader.indices.getDataStream({ name: dataStream });
    expect(data_streams.map((stream) => stream.name)).toEqual([dataStream]);
    expect(await storedIds()).toEqual([alerts[1], alerts[2], alerts[0]].map((alert) => alert?.id));
    const found = await reader.search<Record<string, unknown>>({
      index: dataStream,
      query: { ids: { values: [alerts[0]?.id as string] } },
    });
    expect(found.hits.hits[0]?._source).toEqual(alerts[0]?.document);
  });

  test("elasticsearch-sink - a redelivered batch is stored once", async () => {
    const batch = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 })];
    await sink.write(batch);
    await sink.write(batch);
    await sink.write([...batch, makeAlert({ seed: 3 })]);
    expect((await storedIds()).length).toBe(3);
    await reader.indices.refresh({ index: dataStream });
    expect((await reader.count({ index: dataStream })).count).toBe(3);
  });

  test("elasticsearch-sink - a document the mapping refuses surfaces as a VigilError naming the alert", async () => {
    const good = makeAlert({ seed: 1 });
    const bad = makeAlert({ seed: 2 });
    bad.document.destination = { ip: "not-an-ip", port: 4444 };
    const error = await sink.write([good, bad]).catch((caught: unknown) => caught);
    expect(isVigilError(error, "VIGIL_ERR_SINK_WRITE")).toBe(true);
    expect(error).toBeInstanceOf(SinkWriteError);
    const writeError = error as SinkWriteError;
    expect(writeError.message).toContain(`alert ${bad.id}`);
    expect(writeError.message).toContain("destination.ip");
    expect(writeError.permanent).toBe(true);
    expect(writeError.rejected).toEqual([expect.objectContaining({ alertId: bad.id, status: 400 })]);
    expect(writeError.unstoredIds).toEqual([bad.id]);
    // The rest of the batch is stored.
    expect(await storedIds()).toEqual([good.id]);
  });

  test("elasticsearch-sink - updateCounts raises an alert's count in its backing index, never lowers it", async () => {
    const alerts = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 })];
    await sink.write(alerts);
    const [first, second] = alerts.map((alert) => alert.id) as [string, string];
    await sink.updateCounts([
      { alertId: first, count: 5, lastSeen: "2026-11-23T12:00:05.000Z" },
      { alertId: second, count: 2, lastSeen: "2026-11-23T12:00:02.000Z" },
    ]);
    // A late, lower count (another hub's older view) changes nothing.
    await sink.updateCounts([{ alertId: first, count: 3, lastSeen: "2026-11-23T12:00:03.000Z" }]);
    await reader.indices.refresh({ index: dataStream });
    const found = await reader.search<{ vigil: { alert_id: string; alert?: Record<string, unknown> } }>({
      index: dataStream,
      size: 10,
      query: { ids: { values: [first, second] } },
    });
    const byId = new Map(found.hits.hits.map((hit) => [hit._id, hit._source?.vigil]));
    expect(byId.get(first)?.alert).toMatchObject({ count: 5, last_seen: "2026-11-23T12:00:05.000Z" });
    expect(byId.get(second)?.alert).toMatchObject({ count: 2 });
    expect(byId.get(first)?.alert_id).toBe(first);
    expect((await reader.count({ index: dataStream })).count).toBe(2);
  });
}
