// Hub evaluation per core through the full default ruleset (rules/): a busy
// host's mix (mostly benign exec/open/connect, ~1% scenario attacks),
// normalised by the server's normalizeEvent into BusEventBatches of 1000.
//   ruleset match only        Ruleset.match on prepared ECS documents
//   decode only               decodeBusBatch (protobuf, host/agent/parents put back)
//   decode+view+match         + ecsEventView and Ruleset.match, as the hub reads events
//   decode+ecs+match+alert    decodeBusBatch + HubService.evaluateBatch
//                             (ecsEventView, SigmaRuleEvaluator, buildAlert)
//   time shares               of the full path: decoding, ECS fields + matching, the rest
//                             (alerts, correlation collection)
// Target (DESIGN.md §4): 200k events/s per core through the full ruleset.
//   npm run build && node bench/hub-evaluate.mts [seconds-per-measurement]
import {
  createMemoryBus,
  decodeBusBatch,
  type EcsDocument,
  ecsEventView,
  keepBatchObjectsYoung,
  silentLogger,
  toEcsDocument,
} from "@vigil/common";
import {
  type CorrelatedMatch,
  DEFAULT_RULES_DIR,
  HubService,
  loadRuleSources,
  Ruleset,
  SigmaRuleEvaluator,
} from "@vigil/hub";
import {
  benchIdentity,
  benchSeconds,
  encodeBusBatch,
  eventMix,
  measure,
  rateFields,
  report,
  toBusBatches,
  toEvents,
  vsTarget,
} from "./bench-util.mts";

// The process setting `vigil hub` starts with (cli/src/commands/distributed.ts).
keepBatchObjectsYoung();

const TARGET = 200_000;
const POOL_EVENTS = 20_000;
const SECONDS = Number(process.argv[2] ?? benchSeconds());

// Base rules and correlations, as the hub loads the directory.
const loaded = loadRuleSources(DEFAULT_RULES_DIR);
if (loaded.errors.length > 0) {
  for (const error of loaded.errors) process.stderr.write(`rule error: ${error.message}\n`);
}
const ruleset = new Ruleset(loaded.rules);
const evaluator = new SigmaRuleEvaluator(ruleset, "1", loaded.correlations);
const bus = createMemoryBus();
const service = new HubService({
  bus,
  rules: evaluator,
  sinks: [],
  consumer: { maxInFlight: 1, ackWaitMs: 30_000, maxDeliver: 1, retryDelayMs: 0 },
  logger: silentLogger(),
});

const batches = toBusBatches(benchIdentity(), toEvents(eventMix(POOL_EVENTS, 0.01)));
const encoded = batches.map(encodeBusBatch);
const canonical = batches.flatMap((batch) => batch.events);
const documents: EcsDocument[] = canonical.map(toEcsDocument);
const bytesPerEvent = encoded.reduce((sum, data) => sum + data.byteLength, 0) / canonical.length;

// Sanity: the attacks fire, the benign events do not.
let matchedDocs = 0;
for (const document of documents) if (ruleset.match(document).length > 0) matchedDocs++;
report("hub setup", {
  rules: ruleset.size,
  correlations: loaded.correlations.length,
  pool_events: documents.length,
  matching_events_pct: (100 * matchedDocs) / documents.length,
  bus_bytes_per_event: Math.round(bytesPerEvent),
});

const CHUNK = 1000;
let cursor = 0;
let sink = 0;

const match = measure(() => {
  const end = cursor + CHUNK;
  for (let i = cursor; i < end; i++) sink += ruleset.match(documents[i]).length;
  cursor = end % documents.length;
  return CHUNK;
}, SECONDS);
report("hub ruleset match only", {
  ...rateFields(match),
  vs_target: vsTarget(match.perCpuSecond, TARGET),
});

let batchIndex = 0;
const decode = measure(() => {
  const batch = decodeBusBatch(encoded[batchIndex]);
  batchIndex = (batchIndex + 1) % encoded.length;
  return batch.events.length;
}, SECONDS);
report("hub decode only", {
  ...rateFields(decode),
});

const decodeMatch = measure(() => {
  const batch = decodeBusBatch(encoded[batchIndex]);
  batchIndex = (batchIndex + 1) % encoded.length;
  for (const event of batch.events) sink += ruleset.match(ecsEventView(event)).length;
  return batch.events.length;
}, SECONDS);
report("hub decode+view+match", {
  ...rateFields(decodeMatch),
});

// Matches that feed correlations are collected as the hub collects them (the
// windows' KV updates are bench/correlation.mts's figure).
const correlated: CorrelatedMatch[] = [];
const full = measure(() => {
  const batch = decodeBusBatch(encoded[batchIndex]);
  batchIndex = (batchIndex + 1) % encoded.length;
  correlated.length = 0;
  sink += service.evaluateBatch(batch, new Date(), correlated).length + correlated.length;
  return batch.events.length;
}, SECONDS);
let alerts = 0;
let correlatedMatches = 0;
for (const data of encoded) {
  correlated.length = 0;
  alerts += service.evaluateBatch(decodeBusBatch(data), new Date(), correlated).length;
  correlatedMatches += correlated.length;
}
report("hub decode+ecs+match+alert", {
  ...rateFields(full),
  alerts_per_1k: (1000 * alerts) / canonical.length,
  correlated_per_1k: (1000 * correlatedMatches) / canonical.length,
  vs_target: vsTarget(full.perCpuSecond, TARGET),
});

// CPU time per event of each stage, as a share of the full path's.
const cpuPerEvent = (m: { perCpuSecond: number }) => 1 / m.perCpuSecond;
const decodeShare = cpuPerEvent(decode) / cpuPerEvent(full);
const matchShare = (cpuPerEvent(decodeMatch) - cpuPerEvent(decode)) / cpuPerEvent(full);
report("hub time shares", {
  decode_pct: Math.round(100 * decodeShare),
  ecs_and_match_pct: Math.round(100 * matchShare),
  alerts_and_rest_pct: Math.round(100 * (1 - decodeShare - matchShare)),
});

await bus.close();
if (sink < 0) process.stdout.write("unreachable\n"); // keeps the measured work observable
