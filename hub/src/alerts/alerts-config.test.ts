import { loadHubConfig } from "../config";
import { DEFAULT_DEDUP_FIELDS } from "./alert-dedup";

// The hub config keys of the alert stage: dedup, Elasticsearch batching and
// retention, webhook notifiers. Errors name the key; the webhook URL (a
// secret) is not echoed.

const base = { alertStorePath: "/tmp/alerts-config-test.db" };
const load = (overrides: Record<string, unknown>) =>
  loadHubConfig({ env: {}, overrides: { ...base, ...overrides } });

describe("hub config - alerts", () => {
  test("defaults: dedup off with the default key, ES batches of 500 x 2, no webhook", () => {
    const config = load({ elasticsearch: { nodes: ["http://127.0.0.1:9200"] } });
    expect(config.alerts).toEqual({ dedupWindowMs: 0, dedupFields: [...DEFAULT_DEDUP_FIELDS] });
    expect(config.elasticsearch).toMatchObject({
      maxBatchItems: 500,
      maxConcurrentRequests: 2,
      maxBatchBytes: 5 * 1024 * 1024,
    });
    expect(config.notify.webhooks).toEqual([]);
  });

  test("a webhook gets its defaults; env-style strings are coerced", () => {
    const config = load({
      alerts: { dedupWindowMs: "600000", dedupFields: "host.id,process.command_line" },
      notify: { webhooks: [{ name: "soc", url: "https://hooks.example/services/T/B/token" }] },
    });
    expect(config.alerts).toEqual({
      dedupWindowMs: 600_000,
      dedupFields: ["host.id", "process.command_line"],
    });
    expect(config.notify.webhooks[0]).toMatchObject({
      name: "soc",
      minLevel: "high",
      timeoutMs: 5000,
      maxAttempts: 3,
    });
  });

  test("bad values are refused with the key named", () => {
    const secret = () =>
      load({ notify: { webhooks: [{ name: "soc", url: "ftp://hooks.example/secret-token" }] } });
    expect(secret).toThrow("notify.webhooks.0.url: Invalid URL");
    expect(secret).not.toThrow("secret-token");
    expect(() => load({ notify: { webhooks: [{ name: "soc", url: "ftp://hooks.example/x" }] } })).toThrow(
      "notify.webhooks.0.url",
    );
    expect(() =>
      load({
        notify: {
          webhooks: [
            { name: "soc", url: "https://a.example/1" },
            { name: "soc", url: "https://b.example/2" },
          ],
        },
      }),
    ).toThrow(/notify\.webhooks\.1\.name.*used twice/s);
    expect(() =>
      load({ notify: { webhooks: [{ name: "soc", url: "https://a.example/1", minLevel: "urgent" }] } }),
    ).toThrow("notify.webhooks.0.minLevel");
    expect(() => load({ alerts: { dedupWindowMs: -1 } })).toThrow("alerts.dedupWindowMs");
    expect(() => load({ alerts: { dedupFields: ["host.id", "not a path"] } })).toThrow("alerts.dedupFields");
  });
});
