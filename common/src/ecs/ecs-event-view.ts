import type { CanonicalEvent } from "@vigil/proto";
import type { EcsDocument } from "../alerts/types";
import { ECS_TOP_LEVEL_FIELDS } from "./to-ecs-document";

const NOT_BUILT = Symbol("not built");

/**
 * An event's ECS document whose top-level fields (`process`, `file`, …) are
 * built the first time they are read. The hub matches every event but alerts
 * on about one in a hundred: a rule reading `process.command_line` should not
 * pay for the event's host, agent, user and timestamps. Reads give exactly
 * what toEcsDocument's document holds (the same builders make them). Only
 * property reads by name are supported — no enumeration, spreading or JSON:
 * code that keeps or sends the document takes ecsDocumentOf(view).
 */
class EcsEventView {
  readonly #source: CanonicalEvent;
  readonly #built: unknown[];
  #whole: EcsDocument | undefined;

  constructor(source: CanonicalEvent) {
    this.#source = source;
    this.#built = new Array(ECS_TOP_LEVEL_FIELDS.length).fill(NOT_BUILT);
  }

  /** Top-level field `index` of ECS_TOP_LEVEL_FIELDS, built once. */
  fieldAt(index: number): unknown {
    let value = this.#built[index];
    if (value === NOT_BUILT) {
      value = ECS_TOP_LEVEL_FIELDS[index][1](this.#source);
      this.#built[index] = value;
    }
    return value;
  }

  /** The whole document, made of the fields already built and the rest. */
  document(): EcsDocument {
    if (this.#whole === undefined) {
      const doc: EcsDocument = {};
      for (let i = 0; i < ECS_TOP_LEVEL_FIELDS.length; i++) {
        const value = this.fieldAt(i);
        if (value !== undefined) doc[ECS_TOP_LEVEL_FIELDS[i][0]] = value;
      }
      this.#whole = doc;
    }
    return this.#whole;
  }
}

// `view.process`, `view["@timestamp"]`, …: one getter per top-level field.
for (const [index, [name]] of ECS_TOP_LEVEL_FIELDS.entries()) {
  Object.defineProperty(EcsEventView.prototype, name, {
    get(this: EcsEventView) {
      return this.fieldAt(index);
    },
  });
}

/**
 * A document to match rules against: reads give what toEcsDocument(event)
 * holds, building only what is read. Pass it through ecsDocumentOf before
 * keeping, enumerating or serialising it.
 */
export function ecsEventView(event: CanonicalEvent): EcsDocument {
  return new EcsEventView(event) as unknown as EcsDocument;
}

/** A plain ECS document: the view's whole document, or the document itself. */
export function ecsDocumentOf(doc: EcsDocument): EcsDocument {
  return doc instanceof EcsEventView ? doc.document() : doc;
}
