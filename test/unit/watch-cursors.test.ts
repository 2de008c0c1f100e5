import { expect } from "chai";
import { RememberedVersions } from "../../src/secrets/remembered-versions.js";
import { cursorOf, judgeLists } from "../../src/secrets/watch-state.js";

describe("unit: the change stream's cursors", () => {
  describe("RememberedVersions", () => {
    it("gives the cursor cursorOf gives, whatever the order of the list", () => {
      const memory = new RememberedVersions(100);
      memory.set("a", 1);
      memory.set("b", 7);
      const expected = cursorOf(["a", "b"], (id) => ({ a: 1, b: 7 })[id]!);
      expect(memory.cursor(["a", "b"])).to.equal(expected);
      expect(memory.cursor(["b", "a"])).to.equal(expected);
    });

    it("never answers a cursor made from an older version", () => {
      const memory = new RememberedVersions(100);
      memory.set("a", 1);
      const before = memory.cursor(["a"]);
      memory.set("a", 1);
      expect(memory.cursor(["a"])).to.equal(before);
      memory.set("a", 2);
      expect(memory.cursor(["a"])).to.not.equal(before);
      expect(memory.cursor(["a"])).to.equal(cursorOf(["a"], () => 2));
      memory.forget("a");
      expect(memory.has("a")).to.equal(false);
      memory.set("a", 1);
      expect(memory.cursor(["a"])).to.equal(before);
    });

    it("holds at most its limit of versions and of cursors", () => {
      const memory = new RememberedVersions(10);
      for (let i = 0; i < 25; i++) memory.set(`v${i}`, i);
      expect(memory.has("v24")).to.equal(true);
      expect(memory.has("v0")).to.equal(false);
      for (let i = 20; i < 25; i++) expect(memory.cursor([`v${i}`])).to.equal(cursorOf([`v${i}`], () => i));
    });
  });

  describe("judgeLists", () => {
    it("judges each distinct list once, and says which lists hold unknown or deleted ids", () => {
      const versions: Record<string, number | null | undefined> = { a: 3, b: null, c: undefined };
      let lookups = 0;
      const judge = judgeLists((id) => {
        lookups++;
        return versions[id];
      });
      for (let i = 0; i < 1000; i++) judge(["a"]);
      expect(lookups).to.equal(1);
      expect(judge(["a"])).to.deep.equal({ cursor: cursorOf(["a"], () => 3), unknown: false, gone: false });
      expect(judge(["a", "b"])).to.include({ unknown: false, gone: true });
      expect(judge(["a", "c"])).to.include({ unknown: true, gone: false });
    });
  });
});
