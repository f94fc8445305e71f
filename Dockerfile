# hark's container image: docker build -t hark .  (see docs/deploy.md)
#
# Two stages on the same Debian bookworm base as the development machines, so
# the PocketSphinx addon is compiled against the very libraries it runs with:
# - build: compilers and -dev packages, `npm ci`, the same build steps as
#   scripts/setup.sh (package.json's `build`), then dev packages pruned;
# - runtime: ffmpeg, PocketSphinx and its en-US model, tini, and the built app.
# test/deploy-container.test.ts keeps the apt lists and npm steps in step with
# scripts/setup.sh and package.json.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Build dependencies: scripts/setup.sh's list less the runtime packages.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential python3 pkg-config libpocketsphinx-dev libsphinxbase-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node-gyp (the addon, and better-sqlite3 when no prebuilt binary fits) uses the
# headers shipped in the image instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# package.json's `build`, one step at a time so a change under src/ does not
# recompile the addon.
COPY native/pocketsphinx/binding.gyp native/pocketsphinx/binding.gyp
COPY native/pocketsphinx/src native/pocketsphinx/src
RUN npm run build:native
COPY tsconfig.json tsconfig.build.json vite.config.ts ./
COPY src src
RUN npm run build:ts && npm run build:ui && chmod +x dist/cli/main.js
# Runtime dependencies only. @fugood/whisper.node installs every variant npm
# offers for this platform: CUDA and Vulkan builds and a wasm build, ~250 MB
# that hark never loads (it runs whisper.cpp on the CPU). Only the plain
# @fugood/node-whisper-linux-<arch> package is kept. package-lock.json records
# only the linux-x64 ones today, so on arm64 the whisper engine reports that it
# cannot load (PocketSphinx and the remote engines are unaffected).
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error \
 && arch="$(node -p process.arch)" \
 && find node_modules/@fugood -mindepth 1 -maxdepth 1 -name 'node-whisper-*' ! -name "node-whisper-linux-${arch}" -exec rm -rf {} + \
 && { test -d "node_modules/@fugood/node-whisper-linux-${arch}" \
      || echo "note: no @fugood/node-whisper-linux-${arch} in package-lock.json; the whisper engine will not load" >&2; }

FROM ${NODE_IMAGE} AS runtime
# ffmpeg decodes uploads; pocketsphinx pulls in the shared libraries the addon
# links (libpocketsphinx3, libsphinxbase3); pocketsphinx-en-us is the model;
# tini runs as PID 1.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ffmpeg pocketsphinx pocketsphinx-en-us tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data \
 && chown node:node /data
WORKDIR /app
# Owned by root: the service user can read the app but not change it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/pocketsphinx/build/Release/hark_pocketsphinx.node ./native/pocketsphinx/build/Release/hark_pocketsphinx.node
RUN ln -s /app/dist/cli/main.js /usr/local/bin/hark

# HOST=0.0.0.0 so the published port reaches hark; off loopback, /debug/pool is
# off unless ENABLE_DEBUG_ENDPOINTS=true. DATA_DIR holds the SQLite job store,
# job files, uploads in flight and pulled models.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
# The node image's unprivileged user (uid 1000).
USER node

# Liveness only (the process answers); /readyz is for load balancers, since it
# is 503 while engines load. No curl in the slim image: node's fetch does it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# tini as PID 1 reaps exited worker processes and forwards SIGTERM to hark,
# which drains for SHUTDOWN_GRACE_SECONDS (30 s): stop with a longer timeout
# (docker stop -t 40; compose sets stop_grace_period).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
