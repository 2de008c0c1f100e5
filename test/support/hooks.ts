/** Mocha root hooks: real Postgres up before the first test, down after the last. */
import { startTestPostgres, stopTestPostgres } from "./postgres.js";

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    await startTestPostgres();
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(30_000);
    await stopTestPostgres();
  },
};
