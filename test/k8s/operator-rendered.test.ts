import { expect } from "chai";
import * as k8s from "@kubernetes/client-node";
import { managedSecretName } from "../../src/kubernetes/injection/secret-name.js";
import { decode, OperatorFixture, until } from "../support/operator-fixture.js";

const POLICY = `
- !host kubernetes/apps/web
- !variable db/password
- !variable db/user
- !variable blob
- !permit { role: !host kubernetes/apps/web, privilege: execute, resources: [ !variable db/password, !variable db/user, !variable blob ] }
`;

const GROUPS = {
  "strongroom.io/secret.password": "db/password",
  "strongroom.io/secrets.app.env": "- DB_USER: db/user\n- DB_PASSWORD: db/password\n",
  "strongroom.io/format.app.env": "dotenv",
  "strongroom.io/file-mode.app.env": "0400",
  "strongroom.io/secrets.config.json": "- user: db/user\n- password: db/password\n",
  "strongroom.io/format.config.json": "json",
  "strongroom.io/secrets.dsn": "- U: db/user\n- P: db/password\n",
  "strongroom.io/format.dsn": "template",
  "strongroom.io/template.dsn": 'postgres://{{ secret "U" }}:{{ secret "P" | urlquery }}@db:5432/app',
  "strongroom.io/env.DB_PASSWORD": "db/password",
};

/** What each key must hold for a user and a password (the formats' escaping is tested in test/unit/render-*). */
const expected = (user: string, password: string, passwordInUrl: string) => ({
  password,
  "app.env": `DB_USER="${user}"\nDB_PASSWORD="${password.replaceAll('"', '\\"').replaceAll("$", "\\$")}"\n`,
  "config.json": JSON.stringify({ user, password }, null, 2) + "\n",
  dsn: `postgres://${user}:${passwordInUrl}@db:5432/app`,
  "env.DB_PASSWORD": password,
});

describe("the operator in Secret mode: grouped files and env rendered into the pod's Secret", function () {
  this.timeout(60_000);
  const k = new OperatorFixture({
    webhook: true,
    flags: { "agent-image": "strongroom:test", "agent-server-url": "https://strongroom.strongroom.svc:8080" },
  });
  before(() => k.start(POLICY, { "db/password": 'p@ss "w$rd"', "db/user": "app", blob: "text for now" }));
  after(() => k.stop());

  let pod: k8s.V1Pod;
  let secretName: string;

  it("writes one Secret key per file (raw, dotenv, json, template) and one per env variable, with the right bytes", async () => {
    pod = await k.createThroughWebhook("web", GROUPS);
    secretName = pod.metadata!.annotations!["strongroom.io/secret-name"]!;
    const secret = await until("the Secret", () => k.secret(secretName));
    expect(decode(secret)).to.deep.equal(expected("app", 'p@ss "w$rd"', "p%40ss+%22w%24rd%22"));
    // The pod reads the files through items (env keys never become files) and env through secretKeyRef.
    const source = pod.spec!.volumes![0]!.projected!.sources![0]!.secret!;
    expect(source.name).to.equal(secretName);
    expect(source.items!.map((i) => [i.key, i.mode])).to.deep.equal([
      ["app.env", 0o400],
      ["config.json", undefined],
      ["dsn", undefined],
      ["password", undefined],
    ]);
    expect(pod.spec!.containers[0]!.env).to.deep.equal([
      {
        name: "DB_PASSWORD",
        valueFrom: { secretKeyRef: { name: secretName, key: "env.DB_PASSWORD", optional: false } },
      },
    ]);
    for (const item of source.items!) expect(Object.keys(secret.data!)).to.include(item.key);
  });

  it("re-renders every file and the env key within a second of a rotation", async () => {
    const started = Date.now();
    await k.setSecret("db/password", "rotated 2/2");
    await until(
      "the re-rendered Secret",
      async () => ((await k.secretValues(secretName))["env.DB_PASSWORD"] === "rotated 2/2" ? true : undefined),
      1000,
    );
    expect(Date.now() - started).to.be.below(1000);
    expect(await k.secretValues(secretName)).to.deep.equal(expected("app", "rotated 2/2", "rotated+2%2F2"));
  });

  it("gives workloads that differ only in a format their own Secrets", async () => {
    const bash = await k.createThroughWebhook("web", { ...GROUPS, "strongroom.io/format.app.env": "bash" });
    const name = bash.metadata!.annotations!["strongroom.io/secret-name"]!;
    expect(name).to.not.equal(secretName);
    const secret = await until("the bash Secret", () => k.secret(name));
    expect(decode(secret)["app.env"]).to.equal("export DB_USER='app'\nexport DB_PASSWORD='rotated 2/2'\n");
    expect((await k.secretValues(secretName))["app.env"]).to.equal('DB_USER="app"\nDB_PASSWORD="rotated 2/2"\n');
  });

  it("refuses a binary value in a text format with a Warning Event (no value in it) and leaves the last good Secret untouched", async () => {
    const binary = await k.createThroughWebhook("web", {
      "strongroom.io/secrets.blob.env": "- BLOB: blob\n",
      "strongroom.io/format.blob.env": "dotenv",
    });
    const name = binary.metadata!.annotations!["strongroom.io/secret-name"]!;
    const good = await until("the text Secret", () => k.secret(name));
    expect(decode(good)).to.deep.equal({ "blob.env": 'BLOB="text for now"\n' });
    const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff, 0x00, 0x41]);
    await k.setSecret("blob", bytes);
    const events = await until("a RenderFailed Event", async () => {
      const list = await k.events(binary.metadata!.name!, "RenderFailed");
      return list.length ? list : undefined;
    });
    expect(events[0]!.type).to.equal("Warning");
    expect(events[0]!.message).to.match(/file 'blob.env': the value of 'BLOB' is binary/);
    expect(events[0]!.message).to.not.contain(bytes.toString("base64")).and.not.contain(bytes.toString("latin1"));
    await k.server.controller!.idle();
    const after = (await k.secret(name))!;
    expect(after.metadata!.resourceVersion).to.equal(good.metadata!.resourceVersion);
    expect(decode(after)).to.deep.equal({ "blob.env": 'BLOB="text for now"\n' });
  });

  it("gives agent-mode pods no Secret, even one labelled managed and naming a Secret", async () => {
    const agent = await k.createThroughWebhook("web", {
      "strongroom.io/inject-mode": "agent",
      "strongroom.io/secret.token": "db/password",
    });
    expect(agent.metadata!.annotations!["strongroom.io/secret-name"]).to.equal(undefined);
    expect(agent.spec!.initContainers![0]!.name).to.equal("strongroom-agent");
    const secretMode = await k.createThroughWebhook("web", { "strongroom.io/secret.only": "db/user" });
    const shared = secretMode.metadata!.annotations!["strongroom.io/secret-name"]!;
    await until("the secret-mode pod's Secret", () => k.secret(shared));
    // Hand-edited (or hostile) init pods carrying the label and the name a Secret-mode pod would get.
    const forged = async (annotations: Record<string, string>, name: string): Promise<k8s.V1Pod> => {
      const p = await k.admitted("web", annotations);
      p.metadata!.labels = { "strongroom.io/managed": "true" };
      p.metadata!.annotations!["strongroom.io/secret-name"] = name;
      return k.createPod(p);
    };
    const ownName = managedSecretName("apps", "sa:web", { alone: "db/user" });
    const alone = await forged(
      { "strongroom.io/inject-mode": "init", "strongroom.io/secret.alone": "db/user" },
      ownName,
    );
    const joiner = await forged(
      { "strongroom.io/inject-mode": "init", "strongroom.io/secret.only": "db/user" },
      shared,
    );
    // Barrier: the pod watch is ordered, so once a later pod's Secret exists both were seen; idle() waits out their reconciles.
    const later = await k.createThroughWebhook("web", { "strongroom.io/secret.later": "db/user" });
    await until("the later pod's Secret", () => k.secret(later.metadata!.annotations!["strongroom.io/secret-name"]!));
    await k.server.controller!.idle();
    expect(await k.managedSecretNames()).to.not.include(ownName);
    const owners = (await k.secret(shared))!.metadata!.ownerReferences!.map((o) => o.uid);
    expect(owners, "an init-mode pod is no owner of a Secret-mode pod's Secret").to.deep.equal([
      secretMode.metadata!.uid,
    ]);
    expect(owners).to.not.include(alone.metadata!.uid).and.not.include(joiner.metadata!.uid);
  });
});
