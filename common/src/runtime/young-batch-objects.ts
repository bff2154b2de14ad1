import { setFlagsFromString } from "node:v8";

/**
 * Turns off V8's allocation-site pretenuring for this process. Vigil's
 * programs decode, transform and encode events in batches: a thousand event
 * objects are all alive until the batch is done, so the scavenges that land
 * mid-batch see most of them survive. V8 then decides those allocation sites
 * make long-lived objects and allocates every later event straight in the old
 * generation, which fills and is compacted again and again. In the agent that
 * grew the heap to several times the live set (~100 MB at 10k events/s,
 * bench/agent-rss.mts); in the server it made decoding a batch 2.5× slower
 * (bench/server-ingest.mts). Young objects they are. Called first thing by
 * each program's entry, before the first batch.
 */
export function keepBatchObjectsYoung(): void {
  setFlagsFromString("--no-allocation-site-pretenuring");
}
