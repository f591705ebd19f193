# im-bridge container image (multi-stage, non-root, /data volume, healthcheck). Build:
#   docker build -t im-bridge .
# Run (queue on a volume; mount your own bridge.yaml at /etc/im-bridge/bridge.yaml to change routes):
#   docker run -d --name im-bridge -p 8080:8080 -v im-bridge-data:/data \
#     -e IM_SDK_APP_ID=1400000000 -e IM_CALLBACK_TOKEN=... --stop-timeout 30 im-bridge
# IM_CALLBACK_TOKEN (the console's callback token) is required: the image listens on 0.0.0.0, and an
# unsigned app there is refused at start unless -e IM_BRIDGE_ALLOW_UNSIGNED=true says it is on purpose.
FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary can be downloaded.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/im-bridge
# Dependencies in a layer of their own, rebuilt only when package*.json change: `--ignore-scripts`
# keeps the package's own `prepare` (tsc, needs the sources) out of it, and `npm rebuild` then runs the
# dependencies' install scripts (better-sqlite3's native build).
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts && npm rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
# tsc writes dist/; then the dev dependencies (typescript, tap, ...) go.
RUN npm run build && test -f dist/src/cli.js && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    IM_BRIDGE_HOST=0.0.0.0 \
    IM_BRIDGE_PORT=8080
WORKDIR /data
COPY --from=build /opt/im-bridge/node_modules /opt/im-bridge/node_modules
COPY --from=build /opt/im-bridge/dist /opt/im-bridge/dist
COPY package.json README.md /opt/im-bridge/
COPY config/container-bridge.yaml /etc/im-bridge/bridge.yaml
RUN mkdir -p /data && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# SIGTERM drains (503 for new callbacks, in-flight finished, batches flushed) and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.IM_BRIDGE_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/opt/im-bridge/dist/src/cli.js"]
CMD ["run", "--config", "/etc/im-bridge/bridge.yaml"]
