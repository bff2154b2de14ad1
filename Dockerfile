# syntax=docker/dockerfile:1
# The Vigil image: one image for vigil-server, vigil-hub and vigil-agent
# (docker-compose.yml picks the program with the command: server, hub, agent).
#   docker build -t vigil .
#   docker run --rm vigil --help

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: every dependency, the TypeScript build, then the dev dependencies pruned.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json .npmrc ./
COPY proto/package.json proto/
COPY common/package.json common/
COPY agent/package.json agent/
COPY server/package.json server/
COPY hub/package.json hub/
COPY cli/package.json cli/
# `npm install` pinned by the lock, not `npm ci`: the lock lacks other platforms'
# optional binaries (biome, swc, buf) and npm ci refuses it (npm/cli#4828; .ci/run
# does the same). No install scripts: every runtime dependency is plain
# JavaScript, and the scripts that exist (the npm "node" package, swc, buf)
# fetch tools the image already has or does not need.
RUN npm install --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY proto/ proto/
COPY common/ common/
COPY agent/ agent/
COPY server/ server/
COPY hub/ hub/
COPY cli/ cli/
# cli references proto, common, agent, server and hub: one build of the lot.
RUN node_modules/.bin/tsc -b cli \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: compiled JavaScript, production dependencies, the default ruleset.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# The server and hub run as this user; the agent container overrides it with
# root (its collectors need the host's tracefs and every process's /proc).
RUN groupadd --system --gid 10001 vigil \
  && useradd --system --uid 10001 --gid vigil --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil \
  && install -d -o vigil -g vigil -m 0750 /var/lib/vigil
WORKDIR /opt/vigil
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/proto/package.json proto/
COPY --from=build /src/proto/dist/ proto/dist/
COPY --from=build /src/common/package.json common/
COPY --from=build /src/common/dist/ common/dist/
COPY --from=build /src/agent/package.json agent/
COPY --from=build /src/agent/dist/ agent/dist/
COPY --from=build /src/server/package.json server/
COPY --from=build /src/server/dist/ server/dist/
COPY --from=build /src/hub/package.json hub/
COPY --from=build /src/hub/dist/ hub/dist/
COPY --from=build /src/cli/package.json cli/
COPY --from=build /src/cli/bin/ cli/bin/
COPY --from=build /src/cli/dist/ cli/dist/
# The hub's and the server's default rulesDir (hub/dist/../../rules).
COPY rules/ rules/
USER vigil
# gRPC for agents, REST API, hub/agent /healthz and /metrics.
EXPOSE 7443 8080 9464
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/vigil/cli/dist/main.js"]
CMD ["--help"]
