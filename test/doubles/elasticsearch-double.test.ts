// Pins the wire shapes the double answers with, so sink tests against it mean
// something: these are the shapes a real Elasticsearch 9 returns.

import { ElasticsearchDouble } from "./elasticsearch-double";

const NDJSON = "application/vnd.elasticsearch+x-ndjson; compatible-with=9";

describe("elasticsearch-double", () => {
  let double: ElasticsearchDouble;

  beforeEach(async () => {
    double = await ElasticsearchDouble.start();
  });

  afterEach(async () => {
    await double.stop();
  });

  async function call(method: string, path: string, body?: string, contentType = "application/json") {
    const response = await fetch(double.url + path, {
      method,
      headers: body === undefined ? {} : { "content-type": contentType },
      body,
    });
    // biome-ignore lint/suspicious/noExplicitAny: responses are probed by shape, as a client would
    const json: any = await response.json();
    return { status: response.status, headers: response.headers, json };
  }

  function ndjson(...lines: object[]): string {
    return `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`;
  }

  async function putStreamTemplate(): Promise<void> {
    const template = { index_patterns: ["vigil-alerts*"], data_stream: {}, priority: 500 };
    expect((await call("PUT", "/_index_template/vigil-alerts", JSON.stringify(template))).json).toEqual({
      acknowledged: true,
    });
  }

  test("elasticsearch-double - root answers version info with the product header", async () => {
    const { status, headers, json } = await call("GET", "/");
    expect(status).toBe(200);
    expect(headers.get("x-elastic-product")).toBe("Elasticsearch");
    expect(headers.get("content-type")).toBe("application/json");
    expect(json.version.number).toMatch(/^9\./);
    expect(json.tagline).toBe("You Know, for Search");
  });

  test("elasticsearch-double - bulk create into a data stream: 201, then 409 for the same _id", async () => {
    await putStreamTemplate();
    const body = ndjson({ create: { _id: "a1" } }, { "@timestamp": "2025-01-01T00:00:00Z", message: "x" });
    const first = await call("POST", "/vigil-alerts/_bulk", body, NDJSON);
    expect(first.json.errors).toBe(false);
    expect(first.json.items[0].create).toMatchObject({
      _index: expect.stringMatching(/^\.ds-vigil-alerts-\d{4}\.\d{2}\.\d{2}-000001$/),
      _id: "a1",
      _version: 1,
      result: "created",
      status: 201,
    });
    const again = await call(
      "POST",
      "/_bulk",
      ndjson({ create: { _index: "vigil-alerts", _id: "a1" } }, { "@timestamp": 1 }),
      NDJSON,
    );
    expect(again.status).toBe(200);
    expect(again.json.errors).toBe(true);
    expect(again.json.items[0].create).toMatchObject({
      _id: "a1",
      status: 409,
      error: { type: "version_conflict_engine_exception" },
    });
    const stream = await call("GET", "/_data_stream/vigil-alerts");
    expect(stream.json.data_streams[0]).toMatchObject({ name: "vigil-alerts", template: "vigil-alerts" });
    expect((await call("GET", "/vigil-alerts/_count")).json.count).toBe(1);
  });

  test("elasticsearch-double - data streams need create and @timestamp", async () => {
    await putStreamTemplate();
    const result = await call(
      "POST",
      "/vigil-alerts/_bulk",
      ndjson(
        { index: { _id: "i1" } },
        { "@timestamp": 1 },
        { create: { _id: "c1" } },
        { message: "no time" },
      ),
      NDJSON,
    );
    expect(result.json.items.map((item: object) => Object.values(item)[0])).toEqual([
      expect.objectContaining({
        status: 400,
        error: expect.objectContaining({ type: "illegal_argument_exception" }),
      }),
      expect.objectContaining({
        status: 400,
        error: expect.objectContaining({ type: "document_parsing_exception" }),
      }),
    ]);
  });

  test("elasticsearch-double - without a template, require_data_stream fails and a plain create makes an index", async () => {
    const body = ndjson({ create: { _id: "p1" } }, { message: "plain" });
    const required = await call("POST", "/vigil-alerts/_bulk?require_data_stream=true", body, NDJSON);
    expect(required.json.items[0].create).toMatchObject({
      status: 404,
      error: { type: "index_not_found_exception" },
    });
    const plain = await call("POST", "/vigil-alerts/_bulk", body, NDJSON);
    expect(plain.json.items[0].create).toMatchObject({ _index: "vigil-alerts", status: 201 });
    expect(double.isDataStream("vigil-alerts")).toBe(false);
  });

  test("elasticsearch-double - rejects what ES rejects at the request level", async () => {
    const unterminated = await call("POST", "/_bulk", '{"create":{"_index":"x"}}\n{}', NDJSON);
    expect(unterminated.status).toBe(400);
    expect(unterminated.json.error.reason).toContain("terminated by a newline");
    const wrongType = await call("POST", "/_bulk", "{}\n", "text/plain");
    expect(wrongType.status).toBe(406);
    const missing = await call("GET", "/_index_template/nope");
    expect(missing.status).toBe(404);
    expect(missing.json.error.type).toBe("resource_not_found_exception");
    double.rejectNextBulkRequests(1);
    const rejected = await call("POST", "/_bulk", ndjson({ create: { _index: "x" } }, {}), NDJSON);
    expect(rejected.status).toBe(429);
    expect(rejected.json).toMatchObject({ status: 429, error: { type: "es_rejected_execution_exception" } });
  });
});
