# Strongroom image: multi-stage, Node 24, production dependencies only, non-root.
# Build: docker build -t ghcr.io/strongroom/strongroom:0.1.0 .
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci runs `prepare`, which compiles src/ into dist/.
RUN npm ci && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# A fixed non-root uid/gid that the chart's securityContext matches.
RUN groupadd --gid 10001 strongroom && useradd --uid 10001 --gid 10001 --no-create-home strongroom \
 && mkdir /data && chown strongroom:strongroom /data \
 && chmod +x dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/strongroom
# `strongroom` on PATH: `kubectl exec … -- strongroom account reset-admin NAME` recovers a lost admin key.
USER 10001:10001
EXPOSE 8080 8443
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["server"]
