// Checks a document against an index template's mappings the way Elasticsearch
// rejects it at index time (document_parsing_exception and friends), for the
// field types alert documents use. Unknown types are accepted unchecked.

import { isIP } from "node:net";

export interface EsError {
  type: string;
  reason: string;
  caused_by?: EsError;
}

type Dynamic = boolean | "strict" | "runtime";

interface FieldMapping {
  type?: string;
  properties?: Record<string, FieldMapping>;
  dynamic?: Dynamic | "true" | "false";
  fields?: Record<string, FieldMapping>;
}

export interface Mappings {
  dynamic?: Dynamic | "true" | "false";
  properties?: Record<string, FieldMapping>;
  dynamic_templates?: unknown[];
}

const LEAF_TYPES = new Set([
  "keyword",
  "constant_keyword",
  "wildcard",
  "text",
  "match_only_text",
  "long",
  "integer",
  "short",
  "byte",
  "unsigned_long",
  "double",
  "float",
  "half_float",
  "scaled_float",
  "date",
  "date_nanos",
  "ip",
  "boolean",
  "flattened",
  "binary",
]);

/** Validates a template's mappings as PUT _index_template would; null when fine. */
export function checkMappings(mappings: unknown): EsError | null {
  if (mappings === undefined) return null;
  if (!isObject(mappings))
    return {
      type: "mapper_parsing_exception",
      reason: "Failed to parse mapping: mappings must be an object",
    };
  return checkProperties((mappings as Mappings).properties ?? {}, "");
}

function checkProperties(properties: Record<string, FieldMapping>, prefix: string): EsError | null {
  for (const [name, field] of Object.entries(properties)) {
    const path = prefix + name;
    if (typeof field !== "object" || field === null || Array.isArray(field)) {
      return {
        type: "mapper_parsing_exception",
        reason: `Expected map for property [fields] on field [${path}]`,
      };
    }
    const type = field.type ?? "object";
    if (type === "object" || type === "nested") {
      const error = checkProperties(field.properties ?? {}, `${path}.`);
      if (error) return error;
    } else if (!LEAF_TYPES.has(type)) {
      return {
        type: "mapper_parsing_exception",
        reason: `Failed to parse mapping: No handler for type [${type}] declared on field [${path}]`,
      };
    }
  }
  return null;
}

/** Null when the document indexes under these mappings, else the item error ES returns. */
export function checkDocument(document: unknown, mappings: Mappings | undefined, id: string): EsError | null {
  if (!isObject(document)) {
    return {
      type: "document_parsing_exception",
      reason: "[1:1] failed to parse: document must be an object",
    };
  }
  if (mappings === undefined) return null;
  return checkObject(document, mappings.properties ?? {}, normaliseDynamic(mappings.dynamic, true), "", id);
}

function checkObject(
  value: Record<string, unknown>,
  properties: Record<string, FieldMapping>,
  dynamic: Dynamic,
  prefix: string,
  id: string,
): EsError | null {
  for (const [rawKey, child] of Object.entries(value)) {
    // Dotted keys ("event.kind") address the same field as nested objects.
    const [key, ...rest] = rawKey.split(".") as [string, ...string[]];
    const childValue = rest.length > 0 ? nest(rest, child) : child;
    const path = prefix + key;
    const field = properties[key];
    if (field === undefined) {
      if (dynamic === "strict") {
        return {
          type: "strict_dynamic_mapping_exception",
          reason: `[1:2] mapping set to strict, dynamic introduction of [${key}] within [${prefix ? prefix.slice(0, -1) : "_doc"}] is not allowed`,
        };
      }
      continue;
    }
    const error = checkField(childValue, field, dynamic, path, id);
    if (error) return error;
  }
  return null;
}

function checkField(
  value: unknown,
  field: FieldMapping,
  dynamic: Dynamic,
  path: string,
  id: string,
): EsError | null {
  if (value === null) return null;
  if (Array.isArray(value)) {
    for (const element of value) {
      const error = checkField(element, field, dynamic, path, id);
      if (error) return error;
    }
    return null;
  }
  const type = field.type ?? "object";
  if (type === "object" || type === "nested") {
    if (!isObject(value)) {
      return {
        type: "document_parsing_exception",
        reason: `[1:1] object mapping for [${path}] tried to parse field [${path}] as object, but found a concrete value`,
      };
    }
    return checkObject(
      value,
      field.properties ?? {},
      normaliseDynamic(field.dynamic, dynamic),
      `${path}.`,
      id,
    );
  }
  const cause = checkLeaf(value, type);
  if (cause === null) return null;
  const preview = isObject(value) ? JSON.stringify(value) : String(value);
  return {
    type: "document_parsing_exception",
    reason: `[1:1] failed to parse field [${path}] of type [${type}] in document with id '${id}'. Preview of field's value: '${preview}'`,
    caused_by: cause,
  };
}

function checkLeaf(value: unknown, type: string): EsError | null {
  switch (type) {
    case "flattened":
    case "binary":
      return null;
    case "keyword":
    case "constant_keyword":
    case "wildcard":
    case "text":
    case "match_only_text":
      return isPrimitive(value)
        ? null
        : { type: "illegal_state_exception", reason: `Can't get text on a START_OBJECT at 1:1` };
    case "long":
    case "integer":
    case "short":
    case "byte":
    case "unsigned_long":
    case "double":
    case "float":
    case "half_float":
    case "scaled_float": {
      const number = typeof value === "string" ? Number(value) : value;
      if (typeof number === "number" && Number.isFinite(number) && value !== "") return null;
      return isObject(value)
        ? { type: "illegal_state_exception", reason: `Can't get text on a START_OBJECT at 1:1` }
        : { type: "number_format_exception", reason: `For input string: "${String(value)}"` };
    }
    case "date":
    case "date_nanos":
      if (typeof value === "number" && Number.isFinite(value)) return null;
      if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return null;
      return {
        type: "illegal_argument_exception",
        reason: `failed to parse date field [${String(value)}] with format [strict_date_optional_time||epoch_millis]`,
      };
    case "ip":
      if (typeof value === "string" && isIP(value) !== 0) return null;
      return {
        type: "illegal_argument_exception",
        reason: `'${String(value)}' is not an IP string literal.`,
      };
    case "boolean":
      if (value === true || value === false || value === "true" || value === "false" || value === "")
        return null;
      return {
        type: "illegal_argument_exception",
        reason: `Failed to parse value [${String(value)}] as only [true] or [false] are allowed.`,
      };
    default:
      return null;
  }
}

function nest(keys: string[], value: unknown): unknown {
  let result = value;
  for (let index = keys.length - 1; index >= 0; index--) result = { [keys[index] as string]: result };
  return result;
}

function normaliseDynamic(value: FieldMapping["dynamic"], inherited: Dynamic): Dynamic {
  if (value === undefined) return inherited;
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}

function isPrimitive(value: unknown): boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
