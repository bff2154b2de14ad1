import type { Collector, EventSink } from "@vigil/agent";
import { execCatShadowAs } from "../fixtures/sample-events";

/** A collector the test drives: emit() hands the agent exec events with consecutive pids. */
export class ManualCollector implements Collector {
  readonly name = "manual";
  private sink: EventSink | undefined;

  async start(sink: EventSink): Promise<void> {
    this.sink = sink;
  }

  async stop(): Promise<void> {}

  stats(): Record<string, number> {
    return {};
  }

  emit(count: number, firstPid: number): void {
    for (let i = 0; i < count; i++) this.sink?.(execCatShadowAs(firstPid + i));
  }
}
