import { TokenBucket } from "./token-bucket";

describe("token-bucket", () => {
  test("token-bucket - the burst goes at once; beyond it the wait is what the rate needs, and it refills", () => {
    let now = 0;
    const bucket = new TokenBucket(1000, 500, () => now);
    expect(bucket.take(500)).toBe(0);
    // 200 more with an empty bucket: 200 ms at 1000/s.
    expect(bucket.take(200)).toBe(200);
    now += 200;
    // The debt is paid by now; 100 more need 100 ms.
    expect(bucket.take(100)).toBe(100);
    now += 10_000;
    // Refilled to the burst, not beyond.
    expect(bucket.take(500)).toBe(0);
    expect(bucket.take(1)).toBe(1);
  });

  test("token-bucket - a batch larger than the burst is delayed, never refused; rate 0 is unlimited", () => {
    const now = 0;
    const bucket = new TokenBucket(2000, 1000, () => now);
    expect(bucket.take(5000)).toBe(2000);
    expect(new TokenBucket(0, 1, () => now).take(1_000_000)).toBe(0);
  });
});
