import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The lean agent (`strongroom-agent`, src/agent/main.ts) must not load the server: walks its
 * import graph statically (static and dynamic imports, re-exports) from the entry point.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const ENTRY = join(ROOT, "src/agent/main.ts");
const BUNDLE = join(ROOT, "dist/agent/strongroom-agent.cjs");
/** The only packages the agent may load (besides node:*): the renderer's YAML. */
const PACKAGES = new Set(["yaml"]);
/** The only source folders and files the agent may load. */
const SOURCES = [/^src\/agent\//, /^src\/render\//, /^src\/settings-table\.ts$/, /^src\/retry\/backoff\.ts$/];

function importGraph(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    const specifiers = [
      ...source.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[\s\S]*?\sfrom\s+)?["']([^"']+)["']/gm),
      ...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ].map((m) => m[1]!);
    for (const specifier of specifiers) {
      if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
      else if (!specifier.startsWith("node:"))
        packages.set(
          specifier
            .split("/")
            .slice(0, specifier.startsWith("@") ? 2 : 1)
            .join("/"),
          relative(ROOT, file),
        );
    }
  };
  visit(entry);
  return { files, packages };
}

describe("agent: the lean entry point (strongroom-agent) loads no server module", () => {
  it("its static import graph stays inside src/agent, src/render, the settings table and the backoff, with no package but yaml", () => {
    const { files, packages } = importGraph(ENTRY);
    const outside = [...files].map((f) => relative(ROOT, f)).filter((f) => !SOURCES.some((allowed) => allowed.test(f)));
    expect(outside, "server modules reached from src/agent/main.ts").to.deep.equal([]);
    const foreign = [...packages]
      .filter(([name]) => !PACKAGES.has(name))
      .map(([name, from]) => `${name} (from ${from})`);
    expect(foreign, "packages reached from src/agent/main.ts").to.deep.equal([]);
    expect(files.size).to.be.above(8); // the walk did follow the imports
  });

  it("the walk itself would catch a server import (it sees express, pg and the kubernetes client from the server's CLI)", () => {
    const { packages } = importGraph(join(ROOT, "src/cli/main.ts"));
    expect([...packages.keys()]).to.include.members([
      "express",
      "pg",
      "@kubernetes/client-node",
      "pino",
      "prom-client",
    ]);
  });

  it("at run time, `--help` loads none of those packages either (a loader hook lists every module loaded)", () => {
    const hook = `data:text/javascript,${encodeURIComponent(`
      import { registerHooks } from "node:module";
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      process.on("exit", () => process.stderr.write("\\nLOADED " + JSON.stringify(seen) + "\\n"));
    `)}`;
    const run = spawnSync(process.execPath, ["--import", hook, "--import", "tsx", ENTRY, "--help"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.stdout).to.include("Usage: strongroom agent");
    const loaded = JSON.parse(/LOADED (.*)/.exec(run.stderr)?.[1] ?? "[]") as string[];
    const modules = loaded.filter(
      (url) =>
        url.includes("/node_modules/") &&
        !url.includes("/node_modules/tsx/") &&
        !url.includes("/node_modules/get-tsconfig/") &&
        !url.includes("/node_modules/esbuild/") &&
        !url.includes("/node_modules/resolve-pkg-maps/"),
    );
    const names = new Set(modules.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)![1]!));
    expect([...names].filter((n) => !PACKAGES.has(n))).to.deep.equal([]);
    expect(
      loaded.some((url) => url.includes("/src/agent/agent.ts")),
      "the hook saw the agent load",
    ).to.equal(true);
  });

  it("the image's bundle (dist/agent/strongroom-agent.cjs, npm run build) holds exactly those modules, and runs", () => {
    const bundle = readFileSync(BUNDLE, "utf8");
    // esbuild marks each bundled module with a `// <path>` line.
    const modules = [...bundle.matchAll(/^\/\/ ((?:dist|node_modules)\/\S+)$/gm)].map((m) => m[1]!);
    const packages = new Set(modules.filter((m) => m.startsWith("node_modules/")).map((m) => m.split("/")[1]));
    expect([...packages]).to.deep.equal(["yaml"]);
    const own = modules
      .filter((m) => m.startsWith("dist/"))
      .map((m) => m.replace(/^dist\//, "src/").replace(/\.js$/, ".ts"));
    expect(own.filter((f) => !SOURCES.some((allowed) => allowed.test(f)))).to.deep.equal([]);
    expect(own).to.include("src/agent/main.ts");
    const help = spawnSync(process.execPath, [BUNDLE, "--help"], { encoding: "utf8" });
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include("Usage: strongroom agent");
    const bad = spawnSync(process.execPath, [BUNDLE, "--no-such-flag"], { encoding: "utf8" });
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/^strongroom-agent: /);
  });
});
