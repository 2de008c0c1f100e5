import { expect } from "chai";
import { classifyDatabaseError } from "../../src/storage/pg-errors.js";

describe("classifyDatabaseError", () => {
  it("calls values PostgreSQL cannot take the client's input", () => {
    for (const code of ["22021", "22P05", "22003", "22P02", "2201X", "54000"])
      expect(classifyDatabaseError({ code, message: "x" }), code).to.equal("client-input");
  });

  it("calls an unreachable, restarting or overloaded database unavailable", () => {
    for (const code of [
      "08006",
      "08001",
      "57P01",
      "57P03",
      "53300",
      "57014",
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
    ])
      expect(classifyDatabaseError({ code }), code).to.equal("unavailable");
    for (const message of [
      "Connection terminated unexpectedly",
      "timeout exceeded when trying to connect",
      "Query read timeout",
    ])
      expect(classifyDatabaseError(new Error(message)), message).to.equal("unavailable");
  });

  it("leaves our own bugs (syntax, constraint, anything else) unclassified: a 500 that leaks nothing", () => {
    for (const err of [{ code: "42601" }, { code: "23505" }, new TypeError("x is undefined"), null, "text", 42])
      expect(classifyDatabaseError(err)).to.equal(undefined);
  });
});
