import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { describeError } from "../../src/kubernetes/api/kube-client.js";
import { deleteOwnedSecret, isOwnedBy, writeSecret } from "../../src/kubernetes/reconcilers/secret-writer.js";

const status = (code: number, reason: string) =>
  new k8s.ApiException(
    code,
    "",
    JSON.stringify({ kind: "Status", status: "Failure", reason, message: 'secrets "x" value=hunter2 is bad' }),
    {},
  );

/** A CoreV1Api stand-in that answers from a script and records every call. */
function fakeCore(script: {
  replace?: (k8s.ApiException<string> | undefined)[];
  read?: k8s.V1Secret | k8s.ApiException<string>;
}) {
  const calls: string[] = [];
  const core = {
    readNamespacedSecret: async () => {
      calls.push("read");
      if (script.read instanceof k8s.ApiException) throw script.read;
      return script.read!;
    },
    replaceNamespacedSecret: async (req: { body: k8s.V1Secret }) => {
      calls.push(`replace@${req.body.metadata!.resourceVersion}`);
      const next = script.replace?.shift();
      if (next) throw next;
      return { ...req.body, metadata: { ...req.body.metadata, resourceVersion: "99" } };
    },
    createNamespacedSecret: async (req: { body: k8s.V1Secret }) => {
      calls.push("create");
      return { ...req.body, metadata: { ...req.body.metadata, resourceVersion: "1" } };
    },
  } as unknown as k8s.CoreV1Api;
  return { core, calls };
}

const desired = {
  namespace: "apps",
  name: "s",
  data: { a: "bmV3" },
  owners: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: "u1" }],
  annotations: {},
};
const LABELS = { "app.kubernetes.io/managed-by": "strongroom" };
const PODS = { kind: "Pod" } as const;
const cached = (rv: string, data = { a: "b2xk" }): k8s.V1Secret => ({
  metadata: { name: "s", namespace: "apps", resourceVersion: rv, labels: LABELS, ownerReferences: desired.owners },
  data,
});
const bindingRef = (uid: string) => ({
  apiVersion: "strongroom.io/v1alpha1",
  kind: "SecretBinding",
  name: "b",
  uid,
  controller: true,
});

describe("unit: writeSecret (conflicts, deletions, quiet errors)", () => {
  it("writes nothing when the cached Secret already holds the data and owners", async () => {
    const { core, calls } = fakeCore({});
    expect((await writeSecret(core, desired, PODS, cached("5", { a: "bmV3" }))).outcome).to.equal("unchanged");
    expect(calls).to.deep.equal([]);
  });

  it("on 409 reads the Secret afresh and updates with the new resourceVersion", async () => {
    const { core, calls } = fakeCore({ replace: [status(409, "Conflict")], read: cached("7") });
    const result = await writeSecret(core, desired, PODS, cached("5"));
    expect(result).to.deep.equal({ outcome: "updated", resourceVersion: "99" });
    expect(calls).to.deep.equal(["replace@5", "read", "replace@7"]);
  });

  it("treats a 404 on update as done: the Secret was deleted meanwhile", async () => {
    const { core, calls } = fakeCore({ replace: [status(404, "NotFound")] });
    expect((await writeSecret(core, desired, PODS, cached("5"))).outcome).to.equal("gone");
    expect(calls).to.deep.equal(["replace@5"]);
  });

  it("creates only when allowed (a tombstone check may refuse)", async () => {
    const { core, calls } = fakeCore({});
    expect((await writeSecret(core, desired, PODS, undefined, async () => false)).outcome).to.equal("gone");
    expect((await writeSecret(core, desired, PODS, undefined)).outcome).to.equal("created");
    expect(calls).to.deep.equal(["create"]);
  });

  it("gives up after repeated conflicts with a short error, for a retry with backoff", async () => {
    const { core } = fakeCore({
      replace: [status(409, "Conflict"), status(409, "Conflict"), status(409, "Conflict")],
      read: cached("7"),
    });
    const err = await writeSecret(core, desired, PODS, cached("5")).catch((e: Error) => e);
    expect((err as Error).message).to.match(/kept changing/);
  });

  it("owns a Secret only with the managed-by label and the claimant's owner references", () => {
    const secret = (
      labels: Record<string, string> | undefined,
      ownerReferences: k8s.V1OwnerReference[],
    ): k8s.V1Secret => ({ metadata: { name: "s", labels, ownerReferences } });
    expect(isOwnedBy(secret(LABELS, desired.owners), PODS)).to.equal(true);
    expect(isOwnedBy(secret(undefined, desired.owners), PODS), "no label").to.equal(false);
    expect(isOwnedBy(secret(LABELS, []), PODS), "no owners").to.equal(false);
    expect(isOwnedBy(secret(LABELS, [bindingRef("b1")]), PODS), "a binding's").to.equal(false);
    expect(isOwnedBy(secret(LABELS, [...desired.owners, bindingRef("b1")]), PODS), "mixed").to.equal(false);
    expect(isOwnedBy(secret(LABELS, [bindingRef("b1")]), { kind: "SecretBinding", uid: "b1" })).to.equal(true);
    expect(
      isOwnedBy(secret(LABELS, [bindingRef("b1")]), { kind: "SecretBinding", uid: "b2" }),
      "another binding's",
    ).to.equal(false);
    expect(isOwnedBy(secret(LABELS, desired.owners), { kind: "SecretBinding", uid: "u1" }), "a pod Secret").to.equal(
      false,
    );
  });

  it("never replaces a Secret it does not own, whether cached or found on a create conflict", async () => {
    const foreign: k8s.V1Secret = {
      metadata: { name: "s", namespace: "apps", resourceVersion: "3" },
      data: { tls: "eA==" },
    };
    const first = fakeCore({});
    expect((await writeSecret(first.core, desired, PODS, foreign)).outcome).to.equal("notOwned");
    expect(first.calls).to.deep.equal([]);
    const second = fakeCore({ read: foreign });
    second.core.createNamespacedSecret = async () => {
      second.calls.push("create");
      throw status(409, "AlreadyExists");
    };
    expect((await writeSecret(second.core, desired, PODS, undefined)).outcome).to.equal("notOwned");
    expect(second.calls).to.deep.equal(["create", "read"]);
  });

  it("deletes only what it owns, with the uid and resourceVersion as preconditions", async () => {
    const deletes: unknown[] = [];
    const core = { deleteNamespacedSecret: async (req: unknown) => void deletes.push(req) } as unknown as k8s.CoreV1Api;
    const ours = { ...cached("5"), metadata: { ...cached("5").metadata, uid: "s-uid" } };
    expect(await deleteOwnedSecret(core, { ...ours, metadata: { ...ours.metadata, labels: {} } }, PODS)).to.equal(
      false,
    );
    expect(await deleteOwnedSecret(core, ours, { kind: "SecretBinding", uid: "u1" })).to.equal(false);
    expect(deletes).to.deep.equal([]);
    expect(await deleteOwnedSecret(core, ours, PODS)).to.equal(true);
    expect(deletes).to.deep.equal([
      { namespace: "apps", name: "s", body: { preconditions: { uid: "s-uid", resourceVersion: "5" } } },
    ]);
  });

  it("describes API errors for logs by status and reason only, never the raw Status body", () => {
    expect(describeError(status(409, "Conflict"))).to.equal("HTTP 409 Conflict");
    expect(describeError(status(409, "Conflict"))).to.not.contain("hunter2");
  });
});
