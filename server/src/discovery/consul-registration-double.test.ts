// The self-registration cases (test/doubles/consul-registration-cases.ts)
// against the loopback Consul double; consul-registration-real.test.ts runs
// the same cases against a real Consul.

import { resolveConsulConnection } from "@vigil/common";
import { ConsulDouble } from "../../../test/doubles/consul-double";
import { defineConsulRegistrationCases } from "../../../test/doubles/consul-registration-cases";

describe("consul-registration (Consul double)", () => {
  let consul: ConsulDouble;
  beforeAll(async () => {
    consul = await ConsulDouble.start();
  });
  afterAll(async () => {
    await consul.stop();
  });
  defineConsulRegistrationCases(() => ({ connection: resolveConsulConnection({ address: consul.url }) }));
});
