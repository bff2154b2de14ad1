// Splitting a write into bounded _bulk requests and running them with bounded
// concurrency: one huge request would be refused (http.max_content_length) or
// hog the cluster's write queue, and unbounded parallel requests invite 429s.

/** Splits in order; a chunk holds at most maxItems and, unless it is a single item, at most maxBytes. */
export function chunkOperations<T extends { ndjson: string }>(
  operations: readonly T[],
  maxItems: number,
  maxBytes: number,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const operation of operations) {
    const size = Buffer.byteLength(operation.ndjson);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(operation);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Like Promise.all over `items.map(task)`, with at most `limit` tasks running; results in input order. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
