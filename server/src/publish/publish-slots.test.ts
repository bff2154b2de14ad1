import { PublishSlots } from "./publish-slots";

describe("publish-slots", () => {
  test("publish-slots - at most `size` at once; the rest wait their turn in order, failures free their slot", async () => {
    const slots = new PublishSlots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const work = (id: number, fail = false) =>
      slots.run(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        order.push(id);
        if (fail) throw new Error(`publish ${id} failed`);
        return id;
      });
    const results = await Promise.allSettled([work(1), work(2, true), work(3), work(4), work(5)]);
    expect(most).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(results.map((result) => result.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
  });
});
