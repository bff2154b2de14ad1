import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { EcsDocument } from "@vigil/common";
import { ALERTS_INDEX_TEMPLATE, buildAlert } from "@vigil/hub";

// deploy/kibana/vigil-saved-objects.ndjson is imported into Kibana by the
// compose stack. Without a Kibana here, what can break it is checked: the
// export format, references between objects, and that every field a view uses
// is one the hub's index template maps and its alert documents carry.

const FILE = join(__dirname, "..", "..", "deploy", "kibana", "vigil-saved-objects.ndjson");

interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: Array<{ id: string; name: string; type: string }>;
  coreMigrationVersion?: string;
  typeMigrationVersion?: string;
}

const objects = readFileSync(FILE, "utf8")
  .split("\n")
  .filter((line) => line !== "")
  .map((line) => JSON.parse(line) as SavedObject);
const byId = new Map(objects.map((object) => [`${object.type}:${object.id}`, object]));

/** Every field path the index template maps ("process.parent.executable", ...). */
function mappedFields(
  properties: Record<string, { properties?: Record<string, unknown> }>,
  prefix = "",
): string[] {
  return Object.entries(properties).flatMap(([name, mapping]) =>
    mapping.properties
      ? mappedFields(
          mapping.properties as Record<string, { properties?: Record<string, unknown> }>,
          `${prefix}${name}.`,
        )
      : [`${prefix}${name}`],
  );
}
const MAPPED = new Set(
  mappedFields(
    ALERTS_INDEX_TEMPLATE.template?.mappings?.properties as Record<
      string,
      { properties?: Record<string, unknown> }
    >,
  ),
);

/** Every field a saved object reads, by object. */
function fieldsUsed(object: SavedObject): string[] {
  const attributes = object.attributes;
  switch (object.type) {
    case "index-pattern":
      return [
        String(attributes.timeFieldName),
        ...Object.keys(JSON.parse(String(attributes.fieldFormatMap))),
        ...Object.keys(JSON.parse(String(attributes.fieldAttrs))),
      ];
    case "lens": {
      const state = attributes.state as {
        datasourceStates: {
          formBased: { layers: Record<string, { columns: Record<string, { sourceField: string }> }> };
        };
        query: { query: string };
      };
      const columns = Object.values(state.datasourceStates.formBased.layers).flatMap((layer) =>
        Object.values(layer.columns),
      );
      return [
        ...columns.map((column) => column.sourceField).filter((field) => field !== "___records___"),
        ...kqlFields(state.query.query),
      ];
    }
    case "search": {
      const source = JSON.parse(
        String((attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON),
      ) as { query: { query: string } };
      return [
        ...(attributes.columns as string[]),
        ...(attributes.sort as string[][]).map(([field]) => field),
        ...kqlFields(source.query.query),
      ];
    }
    case "dashboard":
      return [];
    default:
      throw new Error(`unexpected saved object type ${object.type}`);
  }
}

/** Field names in a KQL query ("event.severity >= 99" -> event.severity). */
function kqlFields(query: string): string[] {
  return [...query.matchAll(/([@A-Za-z_][\w.]*)\s*(?::|>=|<=|>|<)/g)].map((match) => match[1]);
}

/** A value at a dotted path, looking through arrays (threat.technique is a list). */
function valuesAt(document: unknown, path: string): unknown[] {
  const [head, ...rest] = path.split(".");
  if (Array.isArray(document)) return document.flatMap((item) => valuesAt(item, path));
  if (document === null || typeof document !== "object") return [];
  const direct = (document as Record<string, unknown>)[path];
  if (direct !== undefined) return [direct];
  const next = (document as Record<string, unknown>)[head];
  return rest.length === 0 ? (next === undefined ? [] : [next]) : valuesAt(next, rest.join("."));
}

describe("deploy - Kibana saved objects", () => {
  test("deploy-kibana - the export holds a data view over vigil-alerts*, four Lens views, a search and a dashboard", () => {
    expect(objects.map((object) => object.type).sort()).toEqual(
      ["dashboard", "index-pattern", "lens", "lens", "lens", "lens", "search"].sort(),
    );
    expect(new Set(objects.map((object) => `${object.type}:${object.id}`)).size).toBe(objects.length);
    const dataView = objects.find((object) => object.type === "index-pattern");
    expect(dataView?.attributes).toMatchObject({ title: "vigil-alerts*", timeFieldName: "@timestamp" });
    for (const object of objects) {
      // Kibana migrates an object from the version it says it has: never newer than 8.x here.
      expect(object).toMatchObject({
        coreMigrationVersion: "8.8.0",
        typeMigrationVersion: expect.stringMatching(/^8\./),
      });
    }
  });

  test("deploy-kibana - every reference names an object in the file, and every dashboard panel has its reference", () => {
    for (const object of objects) {
      for (const reference of object.references) {
        expect({
          from: object.id,
          to: `${reference.type}:${reference.id}`,
          found: byId.has(`${reference.type}:${reference.id}`),
        }).toEqual({
          from: object.id,
          to: `${reference.type}:${reference.id}`,
          found: true,
        });
      }
    }
    const dashboard = objects.find((object) => object.type === "dashboard") as SavedObject;
    const panels = JSON.parse(String(dashboard.attributes.panelsJSON)) as Array<{
      panelIndex: string;
      panelRefName: string;
      type: string;
    }>;
    expect(panels).toHaveLength(5);
    for (const panel of panels) {
      const reference = dashboard.references.find(
        (entry) => entry.name === `${panel.panelIndex}:${panel.panelRefName}`,
      );
      expect(reference?.type).toBe(panel.type);
    }
    const titles = panels.map((panel) => {
      const reference = dashboard.references.find(
        (entry) => entry.name === `${panel.panelIndex}:${panel.panelRefName}`,
      );
      return String(byId.get(`${reference?.type}:${reference?.id}`)?.attributes.title);
    });
    expect(titles).toEqual([
      "Vigil: alerts over time by severity",
      "Vigil: top rules",
      "Vigil: top hosts",
      "Vigil: MITRE ATT&CK techniques",
      "Vigil: recent critical alerts",
    ]);
  });

  test("deploy-kibana - every field a view uses is mapped by the hub's vigil-alerts index template", () => {
    const unmapped = objects.flatMap((object) =>
      fieldsUsed(object)
        .filter((field) => !MAPPED.has(field))
        .map((field) => `${object.id}: ${field}`),
    );
    expect(unmapped).toEqual([]);
  });

  test("deploy-kibana - and is filled in the alerts the hub builds", () => {
    const alert = buildAlert(
      {
        id: "vigil-test-rule",
        name: "Reverse shell",
        description: "",
        level: "critical",
        author: "Vigil",
        references: [],
        tags: ["attack.t1059.004"],
        version: "1",
        techniques: [{ id: "T1059.004", name: "Command and Scripting Interpreter: Unix Shell" }],
        tactics: [{ id: "TA0002", name: "Execution" }],
      },
      {
        "@timestamp": "2026-01-01T00:00:00.000Z",
        event: { id: "e1", kind: "event", category: ["process"], type: ["start"] },
        host: { name: "web-1" },
        user: { name: "www-data" },
        process: {
          executable: "/usr/bin/bash",
          pid: 42,
          parent: { executable: "/usr/bin/python3" },
        },
      } as EcsDocument,
      new Date("2026-01-01T00:00:01.000Z"),
    );
    const used = [...new Set(objects.flatMap(fieldsUsed))];
    const empty = used.filter((field) => valuesAt(alert.document, field).length === 0);
    expect(empty).toEqual([]);
    // The severity lookup of the data view names the hub's levels.
    const dataView = objects.find((object) => object.type === "index-pattern") as SavedObject;
    const lookup = JSON.parse(String(dataView.attributes.fieldFormatMap))["event.severity"].params
      .lookupEntries as Array<{
      key: string;
      value: string;
    }>;
    expect(lookup).toContainEqual({
      key: String(valuesAt(alert.document, "event.severity")[0]),
      value: "critical",
    });
  });

  test("deploy-kibana - the field check sees a field the template does not map (it can fail)", () => {
    expect(MAPPED.has("rule.name")).toBe(true);
    expect(MAPPED.has("rule.nmae")).toBe(false);
    expect(kqlFields("event.severity >= 99 and host.name: web-1")).toEqual(["event.severity", "host.name"]);
  });
});
