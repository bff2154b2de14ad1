import { Writable } from "node:stream";
import { createLogger, ErrorCodes, isVigilError } from "@vigil/common";
import { makeAlert } from "../../../test/doubles/alert-fixture";
import { ElasticsearchDouble } from "../../../test/doubles/elasticsearch-double";
import { defineElasticsearchSinkCoreCases } from "../../../test/doubles/elasticsearch-sink-cases";
import type { ElasticsearchSinkConfig } from "./elasticsearch-config";
import { ElasticsearchSink } from "./elasticsearch-sink";
import { ALERTS_DATA_STREAM } from "./index-template";
import { SinkWriteError } from "./sink-write-error";

describe("elasticsearch-sink (loopback double)", () => {
  let double: ElasticsearchDouble;
  const sinks: ElasticsearchSink[] = [];

  beforeEach(async () => {
    double = await ElasticsearchDouble.start();
  });

  afterEach(async () => {
    for (const sink of sinks.splice(0)) await sink.close();
    await double.stop();
  });

  function sinkFor(config: Partial<ElasticsearchSinkConfig> = {}): ElasticsearchSink {
    const sink = new ElasticsearchSink({
      config: {
        nodes: [double.url],
        retryBaseDelayMs: 5,
        retryMaxDelayMs: 40,
        maxRetries: 4,
        requestTimeoutMs: 2_000,
        ...config,
      },
    });
    sinks.push(sink);
    return sink;
  }

  function storedIds(): string[] {
    return double
      .documents(ALERTS_DATA_STREAM)
      .map((document) => (document.vigil as { alert_id: string }).alert_id);
  }

  describe("core cases", () => {
    defineElasticsearchSinkCoreCases(() => ({ url: double.url }));
  });

  test("elasticsearch-sink - speaks the ES 9 media types the double checks", async () => {
    await sinkFor().write([makeAlert({ seed: 1 })]);
    const bulk = double.requests.find((request) => request.path.includes("/_bulk"));
    expect(bulk?.path).toBe("/vigil-alerts/_bulk?require_data_stream=true");
    expect(bulk?.headers["content-type"]).toBe("application/vnd.elasticsearch+x-ndjson; compatible-with=9");
    expect(double.isDataStream(ALERTS_DATA_STREAM)).toBe(true);
  });

  test("elasticsearch-sink - per-item 429s are retried until stored", async () => {
    const sink = sinkFor();
    const alerts = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 }), makeAlert({ seed: 3 })];
    double.failItem(alerts[1]?.id as string, "rejected", 2);
    double.failItem(alerts[2]?.id as string, "unavailable", 1);
    await sink.write(alerts);
    expect(storedIds().sort()).toEqual(alerts.map((alert) => alert.id).sort());
    // Only the failed items are resent: 3 + 2 + 1 items over 3 requests.
    expect(double.counters.bulkRequests).toBe(3);
    expect(double.counters.bulkItems).toBe(6);
    expect(sink.counters).toMatchObject({ stored: 3, retriedItems: 3, rejected: 0 });
  });

  test("elasticsearch-sink - whole-request 429 and 503 are retried", async () => {
    const sink = sinkFor();
    await sink.start();
    double.rejectNextBulkRequests(2, 429);
    await sink.write([makeAlert({ seed: 1 })]);
    double.rejectNextBulkRequests(1, 503);
    await sink.write([makeAlert({ seed: 2 })]);
    expect(storedIds().length).toBe(2);
    expect(double.counters.rejectedBulkRequests).toBe(3);
  });

  test("elasticsearch-sink - an injected 400 item error is permanent and names the alert", async () => {
    const sink = sinkFor();
    const alerts = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 })];
    double.failItem(alerts[0]?.id as string, "mapper_parsing", Number.POSITIVE_INFINITY);
    const error = (await sink.write(alerts).catch((caught: unknown) => caught)) as SinkWriteError;
    expect(isVigilError(error, ErrorCodes.SINK_WRITE)).toBe(true);
    expect(error.message).toContain(`alert ${alerts[0]?.id}: 400 mapper_parsing_exception`);
    expect(error.rejected.map((item) => item.type)).toEqual(["mapper_parsing_exception"]);
    // Not retried: one request only, and the healthy alert is stored.
    expect(double.counters.bulkRequests).toBe(1);
    expect(storedIds()).toEqual([alerts[1]?.id]);
  });

  test("elasticsearch-sink - retries transient items before reporting a permanent one", async () => {
    const sink = sinkFor();
    const alerts = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 })];
    double.failItem(alerts[0]?.id as string, "document_parsing", Number.POSITIVE_INFINITY);
    double.failItem(alerts[1]?.id as string, "rejected", 1);
    await expect(sink.write(alerts)).rejects.toThrow(
      `alert ${alerts[0]?.id}: 400 document_parsing_exception`,
    );
    expect(storedIds()).toEqual([alerts[1]?.id]);
  });

  test("elasticsearch-sink - an outage beyond the retries throws, and the alerts land on a later write", async () => {
    const sink = sinkFor({ maxRetries: 2 });
    await sink.start();
    await double.goDown();
    const alerts = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 })];
    const error = (await sink.write(alerts).catch((caught: unknown) => caught)) as SinkWriteError;
    expect(error).toBeInstanceOf(SinkWriteError);
    expect(error.message).toContain("2 of 2 alerts not stored after 3 attempts");
    expect(error.permanent).toBe(false);
    expect([...error.unstoredIds].sort()).toEqual(alerts.map((alert) => alert.id).sort());
    // The bus redelivers; by then ES is back.
    await double.comeUp();
    await sink.write(alerts);
    expect(storedIds().sort()).toEqual(alerts.map((alert) => alert.id).sort());
  });

  test("elasticsearch-sink - a short outage is ridden out by the backoff", async () => {
    const sink = sinkFor({ maxRetries: 8, retryBaseDelayMs: 20, retryMaxDelayMs: 100 });
    await sink.start();
    await double.downFor(150);
    await sink.write([makeAlert({ seed: 1 })]);
    expect(storedIds().length).toBe(1);
  });

  test("elasticsearch-sink - dropped connections are retried", async () => {
    const sink = sinkFor();
    await sink.start();
    double.hangUpNextRequests(2);
    await sink.write([makeAlert({ seed: 1 })]);
    expect(storedIds().length).toBe(1);
  });

  test("elasticsearch-sink - the template is installed lazily when start() was not called", async () => {
    await sinkFor().write([makeAlert({ seed: 1 })]);
    expect(double.template("vigil-alerts")?.data_stream).toEqual({});
  });

  test("elasticsearch-sink - fills a missing @timestamp from the alert time", async () => {
    const alert = makeAlert({ seed: 1 });
    delete alert.document["@timestamp"];
    await sinkFor().write([alert]);
    expect(double.documents(ALERTS_DATA_STREAM)[0]?.["@timestamp"]).toBe(
      new Date(alert.timestampUs / 1000).toISOString(),
    );
  });

  test("elasticsearch-sink - an unserialisable document is rejected, the rest stored", async () => {
    const good = makeAlert({ seed: 1 });
    const bad = makeAlert({ seed: 2 });
    bad.document.vigil = { size: 1n };
    const error = (await sinkFor()
      .write([good, bad])
      .catch((caught: unknown) => caught)) as SinkWriteError;
    expect(error.rejected).toEqual([expect.objectContaining({ alertId: bad.id, status: 0 })]);
    expect(storedIds()).toEqual([good.id]);
  });

  test("elasticsearch-sink - sends credentials and never logs them", async () => {
    await double.stop();
    double = await ElasticsearchDouble.start({ auth: { username: "vigil", password: "s3cret-pw" } });
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ name: "test", level: "debug", destination });
    const nodes = [double.url.replace("http://", "http://vigil:s3cret-pw@")];
    const good = new ElasticsearchSink({ config: { nodes }, logger });
    sinks.push(good);
    await good.start();
    await good.write([makeAlert({ seed: 1 })]);
    expect(storedIds().length).toBe(1);

    const wrong = new ElasticsearchSink({
      config: { nodes: [double.url], auth: { username: "vigil", password: "wrong-pw" }, maxRetries: 3 },
      logger,
    });
    sinks.push(wrong);
    await expect(wrong.write([makeAlert({ seed: 2 })])).rejects.toThrow(/401 security_exception/);
    const logged = lines.join("");
    expect(logged).toContain("elasticsearch alert sink starting");
    expect(logged).not.toContain("s3cret-pw");
    expect(logged).not.toContain("wrong-pw");
  });

  test("elasticsearch-sink - a big write goes out in bounded _bulk requests, at most maxConcurrentRequests at once", async () => {
    const sink = sinkFor({ maxBatchItems: 10, maxConcurrentRequests: 3 });
    await sink.start();
    double.delayBulkResponses(30);
    const alerts = Array.from({ length: 95 }, (_, index) => makeAlert({ seed: index }));
    await sink.write(alerts);
    expect(storedIds().length).toBe(95);
    expect(double.counters.bulkRequests).toBe(10);
    expect(double.counters.maxConcurrentBulk).toBe(3);
  });

  test("elasticsearch-sink - a 429 storm on every chunk is ridden out; each alert is stored once", async () => {
    const sink = sinkFor({ maxBatchItems: 5, maxConcurrentRequests: 2, maxRetries: 10 });
    await sink.start();
    double.rejectNextBulkRequests(12, 429);
    const alerts = Array.from({ length: 20 }, (_, index) => makeAlert({ seed: index }));
    for (const alert of alerts.slice(0, 8)) double.failItem(alert.id, "rejected", 2);
    await sink.write(alerts);
    expect(storedIds().sort()).toEqual(alerts.map((alert) => alert.id).sort());
    expect(double.counters.rejectedBulkRequests).toBe(12);
  });

  test("elasticsearch-sink - retention and ILM policy go into the template", async () => {
    await sinkFor({ retention: "90d" }).start();
    expect(double.template("vigil-alerts")?.template).toMatchObject({
      lifecycle: { enabled: true, data_retention: "90d" },
    });
    await sinkFor({ ilmPolicy: "vigil-alerts-policy" }).start();
    expect(double.template("vigil-alerts")?.template?.settings).toEqual({
      index: { lifecycle: { name: "vigil-alerts-policy", prefer_ilm: true } },
    });
    expect(() => sinkFor({ retention: "ninety days" })).toThrow("elasticsearch.retention");
  });

  test("elasticsearch-sink - updateCounts for an alert not stored (yet) fails transiently, so the batch is retried", async () => {
    const sink = sinkFor({ maxRetries: 1 });
    await sink.start();
    const error = (await sink
      .updateCounts([{ alertId: "not-written-yet", count: 2, lastSeen: "2026-11-23T12:00:00.000Z" }])
      .catch((caught: unknown) => caught)) as SinkWriteError;
    expect(error).toBeInstanceOf(SinkWriteError);
    expect(error.permanent).toBe(false);
    expect(error.unstoredIds).toEqual(["not-written-yet"]);
  });

  test("elasticsearch-sink - config errors name the key", () => {
    expect(() => sinkFor({ nodes: [] })).toThrow("elasticsearch.nodes");
    expect(() => sinkFor({ dataStream: "alerts" })).toThrow("elasticsearch.dataStream");
    expect(() => sinkFor({ maxRetries: -1 })).toThrow("elasticsearch.maxRetries");
    expect(() => sinkFor({ caFile: "/nonexistent/ca.pem" })).toThrow("elasticsearch.caFile");
    // Optional settings left undefined keep their defaults.
    expect(() =>
      sinkFor({ maxRetries: undefined, requestTimeoutMs: undefined, caFile: undefined }),
    ).not.toThrow();
  });
});
