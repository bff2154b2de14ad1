import { chunkOperations, mapWithConcurrency } from "./bulk-batches";

const op = (bytes: number, name: string) => ({ name, ndjson: "x".repeat(bytes) });

describe("bulk-batches", () => {
  test("chunkOperations - keeps order and bounds items and bytes; an oversize item goes alone", () => {
    const operations = [
      op(400, "a"),
      op(400, "b"),
      op(400, "c"),
      op(2000, "big"),
      op(100, "d"),
      op(100, "e"),
    ];
    const chunks = chunkOperations(operations, 2, 1000).map((chunk) => chunk.map((item) => item.name));
    expect(chunks).toEqual([["a", "b"], ["c"], ["big"], ["d", "e"]]);
    expect(chunkOperations([], 2, 1000)).toEqual([]);
  });

  test("mapWithConcurrency - results in input order, never more than the limit running", async () => {
    let running = 0;
    let most = 0;
    const results = await mapWithConcurrency([5, 1, 4, 2, 3, 0], 2, async (delay) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, delay));
      running--;
      return delay * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(most).toBe(2);
  });
});
