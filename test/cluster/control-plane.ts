/**
 * A real Kubernetes control plane on 127.0.0.1 for the cluster tier: etcd, kube-apiserver and
 * kube-controller-manager, built from the Go module proxy by harness/build-control-plane.sh.
 * Every process runs in its own process group so that stop() (and the exit hook, on a crash)
 * kills it with all its children: nothing is left running.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";

const KUBE_VERSION = process.env.KUBE_VERSION ?? "v1.34.2";
const ETCD_VERSION = process.env.ETCD_VERSION ?? "v3.6.14";
const CACHE = process.env.STRONGROOM_CACHE ?? join(homedir(), ".cache", "strongroom");
export const binaries = {
  etcd: join(CACHE, `etcd-${ETCD_VERSION}`, "etcd"),
  apiserver: join(CACHE, `kube-${KUBE_VERSION}`, "kube-apiserver"),
  controllerManager: join(CACHE, `kube-${KUBE_VERSION}`, "kube-controller-manager"),
};

/** Controllers a test cluster needs (no kubelet, no scheduler): see docs/testing-cluster.md. */
const CONTROLLERS = [
  "garbage-collector-controller",
  "namespace-controller",
  "serviceaccount-controller",
  "root-ca-certificate-publisher-controller",
  "deployment-controller",
  "replicaset-controller",
];

export interface ControlPlane {
  dir: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** The service-account issuer (= server, no trailing slash). */
  issuer: string;
  caFile: string;
  caPem: string;
  adminToken: string;
  /** A kubeconfig for the cluster admin (system:masters). */
  adminKubeconfig: string;
  etcdUrl: string;
  /** One line per component, e.g. "kube-apiserver v1.34.2". */
  versions: string[];
  /** Restart kube-apiserver with the same flags (etcd keeps the state). */
  restartApiserver(): Promise<void>;
  /**
   * Stops kube-apiserver, runs `during` against a second one on another port (same etcd: the
   * cluster changes while the clients of the first cannot see it), then starts the first again.
   */
  whileApiserverDown(during: (otherKubeconfig: string) => Promise<void>): Promise<void>;
  /** Compacts etcd at its current revision: every older resourceVersion is gone (410). */
  compactEtcd(): Promise<number>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
// A crashed or interrupted run must not leave daemons behind: kill the groups synchronously.
const killAll = (): void => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
};
process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Daemon {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function startDaemon(name: string, bin: string, args: string[]): Daemon {
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let log = "";
  // Keep only the tail: enough to explain a failure, bounded for a long run.
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<number | null>((ok) =>
    child.once("exit", (code) => {
      running.delete(child);
      // A component that dies on its own (not stopped by us: code null) is worth its log.
      if (process.env.CLUSTER_DEBUG && code !== 0 && code !== null)
        process.stderr.write(`${name} exited ${code}\n${log}\n`);
      ok(code);
    }),
  );
  return { child, log: () => log, exited };
}

async function stopDaemon(daemon: Daemon | undefined): Promise<void> {
  if (!daemon || daemon.child.exitCode !== null || daemon.child.signalCode !== null) return;
  try {
    process.kill(-daemon.child.pid!, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-daemon.child.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
  }, 5_000);
  await daemon.exited;
  clearTimeout(timer);
}

async function waitUntil(what: string, daemon: Daemon, ready: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (daemon.child.exitCode !== null) throw new Error(`${what} exited ${daemon.child.exitCode}:\n${daemon.log()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms:\n${daemon.log()}`);
    await sleep(200);
  }
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "ignore" });
}

/** A CA, the apiserver's serving certificate (127.0.0.1, localhost) and the SA signing key. */
function makeCertificates(dir: string): void {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "30",
      "-subj",
      "/CN=strongroom-test-ca",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  openssl(
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=kube-apiserver",
      "-keyout",
      "apiserver.key",
      "-out",
      "apiserver.csr",
    ],
    dir,
  );
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n");
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "apiserver.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "30",
      "-out",
      "apiserver.crt",
      "-extfile",
      "san.ext",
    ],
    dir,
  );
  openssl(["genrsa", "-out", "sa.key", "2048"], dir);
}

export function kubeconfigYaml(server: string, caPem: string, token: string, user = "user"): string {
  const ca = Buffer.from(caPem).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: test, cluster: {server: "${server}", certificate-authority-data: ${ca}}}]`,
    `users: [{name: ${user}, user: {token: "${token}"}}]`,
    `contexts: [{name: test, context: {cluster: test, user: ${user}}}]`,
    "current-context: test",
    "",
  ].join("\n");
}

const versionOf = (bin: string): string => execFileSync(bin, ["--version"]).toString().trim();

export async function startControlPlane(): Promise<ControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), "strongroom-cluster-"));
  tempDirs.add(dir);
  const daemons: { etcd?: Daemon; apiserver?: Daemon; kcm?: Daemon } = {};
  const stop = async (): Promise<void> => {
    await stopDaemon(daemons.kcm);
    await stopDaemon(daemons.apiserver);
    await stopDaemon(daemons.etcd);
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  try {
    makeCertificates(dir);
    const caPem = readFileSync(join(dir, "ca.crt"), "utf8");
    const adminToken = `admin-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, "tokens.csv"), `${adminToken},admin,uid-admin,"system:masters"\n`);

    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    daemons.etcd = startDaemon("etcd", binaries.etcd, [
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await waitUntil("etcd", daemons.etcd, async () => (await request(`${etcdUrl}/health`)).statusCode === 200);

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserverArgs = (port: number): string[] => [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      // default/kubernetes Endpoints may not hold a loopback address.
      "--endpoint-reconciler-type=none",
      `--cert-dir=${dir}`,
      `--tls-cert-file=${join(dir, "apiserver.crt")}`,
      `--tls-private-key-file=${join(dir, "apiserver.key")}`,
      `--client-ca-file=${join(dir, "ca.crt")}`,
      `--token-auth-file=${join(dir, "tokens.csv")}`,
      "--authorization-mode=Node,RBAC",
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${join(dir, "sa.key")}`,
      `--service-account-signing-key-file=${join(dir, "sa.key")}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--profiling=false",
    ];
    daemons.apiserver = startDaemon("kube-apiserver", binaries.apiserver, apiserverArgs(apiPort));
    const dispatcher = new Agent({ connect: { ca: caPem } });
    const readyz = async (url = server): Promise<boolean> => {
      const res = await request(`${url}/readyz`, { dispatcher, headers: { authorization: `Bearer ${adminToken}` } });
      await res.body.text();
      return res.statusCode === 200;
    };
    await waitUntil("kube-apiserver", daemons.apiserver, () => readyz(), 120_000);

    const adminKubeconfig = join(dir, "admin.kubeconfig");
    writeFileSync(adminKubeconfig, kubeconfigYaml(server, caPem, adminToken, "admin"));
    daemons.kcm = startDaemon("kube-controller-manager", binaries.controllerManager, [
      `--kubeconfig=${adminKubeconfig}`,
      "--leader-elect=false",
      `--controllers=${CONTROLLERS.join(",")}`,
      `--root-ca-file=${join(dir, "ca.crt")}`,
      `--service-account-private-key-file=${join(dir, "sa.key")}`,
      "--use-service-account-credentials=false",
      "--secure-port=0",
    ]);
    // Ready when the service-account controller made the default namespace's ServiceAccount.
    const saReady = async (): Promise<boolean> => {
      const res = await request(`${server}/api/v1/namespaces/default/serviceaccounts/default`, {
        dispatcher,
        headers: { authorization: `Bearer ${adminToken}` },
      });
      await res.body.text();
      return res.statusCode === 200;
    };
    await waitUntil("kube-controller-manager", daemons.kcm, saReady, 60_000);

    const versions = [
      `etcd ${/etcd Version: (\S+)/.exec(versionOf(binaries.etcd))?.[1] ?? "?"}`,
      `kube-apiserver ${versionOf(binaries.apiserver).replace(/^Kubernetes /, "")}`,
      `kube-controller-manager ${versionOf(binaries.controllerManager).replace(/^Kubernetes /, "")}`,
    ];
    return {
      dir,
      server,
      issuer: server,
      caFile: join(dir, "ca.crt"),
      caPem,
      adminToken,
      adminKubeconfig,
      etcdUrl,
      versions,
      async restartApiserver() {
        await stopDaemon(daemons.apiserver);
        daemons.apiserver = startDaemon("kube-apiserver", binaries.apiserver, apiserverArgs(apiPort));
        await waitUntil("kube-apiserver", daemons.apiserver, () => readyz(), 120_000);
      },
      async whileApiserverDown(during) {
        const port = await freePort();
        const other = startDaemon("kube-apiserver (second)", binaries.apiserver, apiserverArgs(port));
        try {
          // The second one is ready before the first stops: the outage stays short (shorter than
          // the controller's renew deadline), so the controller resumes its watch rather than restart.
          await waitUntil("kube-apiserver (second)", other, () => readyz(`https://127.0.0.1:${port}`), 120_000);
          await stopDaemon(daemons.apiserver);
          const kubeconfig = join(dir, "other.kubeconfig");
          writeFileSync(kubeconfig, kubeconfigYaml(`https://127.0.0.1:${port}`, caPem, adminToken, "admin"));
          await during(kubeconfig);
        } finally {
          await stopDaemon(other);
          daemons.apiserver = startDaemon("kube-apiserver", binaries.apiserver, apiserverArgs(apiPort));
          await waitUntil("kube-apiserver", daemons.apiserver, () => readyz(), 120_000);
        }
      },
      async compactEtcd() {
        // etcd's JSON gateway: no etcdctl needed. The range answers with the current revision.
        const range = await request(`${etcdUrl}/v3/kv/range`, {
          method: "POST",
          body: JSON.stringify({ key: Buffer.from("/").toString("base64") }),
        });
        const revision = Number(((await range.body.json()) as { header: { revision: string } }).header.revision);
        const compact = await request(`${etcdUrl}/v3/kv/compaction`, {
          method: "POST",
          body: JSON.stringify({ revision, physical: true }),
        });
        if (compact.statusCode !== 200)
          throw new Error(`etcd compaction: ${compact.statusCode} ${await compact.body.text()}`);
        await compact.body.text();
        return revision;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
