import { expect } from "chai";
import { Aead, DecryptionError, generateDataKey } from "../../src/crypto/aead.js";

describe("crypto: the AEAD module refuses anything it did not seal", () => {
  const aead = Aead.fromBase64(generateDataKey());
  const sealed = aead.encrypt(Buffer.from("s3cret value"), "acct:variable:db#1");
  const flipped = (blob: Buffer, at: number): Buffer => {
    const copy = Buffer.from(blob);
    copy[at] = copy[at]! ^ 0x01;
    return copy;
  };
  const refuses = (run: () => unknown): void => void expect(run).to.throw(DecryptionError);

  it("opens what it sealed, with the same additional data", () => {
    expect(aead.decrypt(sealed, "acct:variable:db#1").toString()).to.equal("s3cret value");
  });

  it("refuses another record's additional data, a flipped bit in the ciphertext, IV or tag, a truncated blob, an unknown key version", () => {
    refuses(() => aead.decrypt(sealed, "acct:variable:db#2"));
    refuses(() => aead.decrypt(flipped(sealed, sealed.length - 1), "acct:variable:db#1"));
    refuses(() => aead.decrypt(flipped(sealed, 1), "acct:variable:db#1"));
    refuses(() => aead.decrypt(flipped(sealed, 14), "acct:variable:db#1"));
    refuses(() => aead.decrypt(sealed.subarray(0, 20), "acct:variable:db#1"));
    refuses(() => aead.decrypt(Buffer.concat([Buffer.of(9), sealed.subarray(1)]), "acct:variable:db#1"));
  });

  it("refuses a blob sealed under another key", () => {
    refuses(() => Aead.fromBase64(generateDataKey()).decrypt(sealed, "acct:variable:db#1"));
  });
});
