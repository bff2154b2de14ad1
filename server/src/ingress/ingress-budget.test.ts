import { IngressBudget } from "./ingress-budget";

describe("ingress-budget", () => {
  test("ingress-budget - exhausted at the bound; released room wakes the longest-paused first, as many as it fits", () => {
    const gauge: number[] = [];
    const budget = new IngressBudget(10_000, (held) => gauge.push(held));
    for (let i = 0; i < 10; i++) budget.hold(1000);
    expect(budget.exhausted()).toBe(true);
    const woken: number[] = [];
    for (let i = 0; i < 5; i++) budget.whenRoom(() => woken.push(i));
    // 2,000 bytes of room at ~1,000 bytes a message: two sessions, the oldest.
    budget.release(2000);
    expect(woken).toEqual([0, 1]);
    // Below half the bound: everyone left, so no session can stay paused with nothing in flight.
    budget.release(4000);
    expect(woken).toEqual([0, 1, 2, 3, 4]);
    expect(budget.heldBytes()).toBe(4000);
    expect(gauge.at(-1)).toBe(4000);
  });

  test("ingress-budget - a forgotten waiter (its stream ended) is not woken", () => {
    const budget = new IngressBudget(1000);
    budget.hold(1000);
    let woken = false;
    const waiter = () => {
      woken = true;
    };
    budget.whenRoom(waiter);
    budget.forget(waiter);
    budget.release(1000);
    expect(woken).toBe(false);
  });
});
