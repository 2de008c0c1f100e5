import { expect } from "chai";
import { decode, MANAGED_BY, OperatorFixture, until } from "../support/operator-fixture.js";

const POLICY = `
- !host kubernetes/apps/web
- !host kubernetes/apps/nobody
- !variable db/password
- !permit { role: !host kubernetes/apps/web, privilege: execute, resource: !variable db/password }
`;

/** Waits a little for the controller to have had every chance to (wrongly) act. */
const settle = () => new Promise((r) => setTimeout(r, 600));

describe("the controller never touches a Secret it does not own", function () {
  this.timeout(60_000);
  const k = new OperatorFixture();
  before(() => k.start(POLICY, { "db/password": "s3cr3t" }));
  after(() => k.stop());

  it("refuses a SecretBinding whose secretName is an existing Secret it did not make, and leaves it as it was", async () => {
    const before = await k.createSecret("app-tls", { "tls.crt": "theirs" }, { labels: { team: "edge" } });
    await k.createBinding("steal-tls", {
      serviceAccountName: "web",
      secretName: "app-tls",
      items: [{ path: "tls.crt", variable: "db/password" }],
    });
    const binding = await k.bindingWith("steal-tls", "SecretNotOwned");
    expect(binding.status.conditions[0]).to.include({ status: "False" });
    expect(binding.status.conditions[0]!.message).to.contain("not owned");
    expect(await k.events("steal-tls", "SecretNotOwned")).to.have.length.greaterThan(0);
    const after = await k.secret("app-tls");
    expect(decode(after)).to.deep.equal({ "tls.crt": "theirs" });
    expect(after!.metadata!.ownerReferences ?? []).to.deep.equal([]);
    expect(after!.metadata!.resourceVersion).to.equal(before.metadata!.resourceVersion);
    await k.deleteBinding("steal-tls");
    await settle();
    expect(decode(await k.secret("app-tls")), "not garbage-collected with the binding").to.deep.equal({
      "tls.crt": "theirs",
    });
  });

  it("refuses a Secret that carries our label but is owned by something else", async () => {
    await k.createSecret("labelled", { a: "theirs" }, { labels: MANAGED_BY });
    await k.createBinding("labelled", { serviceAccountName: "web", items: [{ path: "a", variable: "db/password" }] });
    await k.bindingWith("labelled", "SecretNotOwned");
    expect(decode(await k.secret("labelled"))).to.deep.equal({ a: "theirs" });
  });

  it("lets the first of two bindings naming one Secret keep it; the second gets the conflict", async () => {
    await k.createBinding("first", {
      serviceAccountName: "web",
      secretName: "shared",
      items: [{ path: "password", variable: "db/password" }],
    });
    await k.bindingWith("first", "Synced");
    await k.createBinding("second", {
      serviceAccountName: "web",
      secretName: "shared",
      items: [{ path: "other", variable: "db/password" }],
    });
    await k.bindingWith("second", "SecretNotOwned");
    const shared = await k.secret("shared");
    expect(Object.keys(decode(shared))).to.deep.equal(["password"]);
    expect(shared!.metadata!.ownerReferences!.map((o) => o.name)).to.deep.equal(["first"]);
  });

  it("does not delete another workload's pod Secret when a denied binding names it", async () => {
    const pod = k.mutated("web-0", "web", { "strongroom.io/secret.password": "db/password" });
    const podSecret = pod.metadata!.annotations!["strongroom.io/secret-name"]!;
    await k.createPod(pod);
    await until("the pod's Secret", () => k.secret(podSecret));
    await k.createBinding("denied", {
      serviceAccountName: "nobody",
      secretName: podSecret,
      items: [{ path: "password", variable: "db/password" }],
    });
    await k.bindingWith("denied", "SecretNotOwned");
    await settle();
    expect(decode(await k.secret(podSecret))).to.deep.equal({ password: "s3cr3t" });
  });

  it("does not sweep a binding's Secret that a pod names in its annotations", async () => {
    await k.createBinding("swept", {
      serviceAccountName: "web",
      items: [{ path: "password", variable: "db/password" }],
    });
    await k.bindingWith("swept", "Synced");
    const uid = (await k.secret("swept"))!.metadata!.uid;
    const pod = k.mutated("liar-0", "web", { "strongroom.io/secret.password": "db/password" });
    pod.metadata!.annotations!["strongroom.io/secret-name"] = "swept";
    await k.createPod(pod);
    await settle();
    const secret = await k.secret("swept");
    expect(decode(secret)).to.deep.equal({ password: "s3cr3t" });
    expect(secret!.metadata!.uid, "never deleted (and made again)").to.equal(uid);
  });

  it("tells a pod whose Secret name is taken by an unmanaged Secret, and writes nothing", async () => {
    const pod = k.mutated("collide-0", "web", { "strongroom.io/secret.key": "db/password" });
    const name = pod.metadata!.annotations!["strongroom.io/secret-name"]!;
    const before = await k.createSecret(name, { key: "not ours" });
    const created = await k.createPod(pod);
    await until("a SecretNotOwned Event on the pod", async () =>
      (await k.events(created.metadata!.name!, "SecretNotOwned")).length ? true : undefined,
    );
    const after = await k.secret(name);
    expect(decode(after)).to.deep.equal({ key: "not ours" });
    expect(after!.metadata!.resourceVersion).to.equal(before.metadata!.resourceVersion);
  });
});
