# syntax=docker/dockerfile:1
# The one Weft image. Every entry point runs from it: `weft proxy` (as UID 7102, set by the injector),
# `weft proxy-init` (as root with NET_ADMIN/NET_RAW, set by the injector), `weft controller`,
# `weft injector` and the CLI. `npm run images` builds it with buildah (test/cluster/images.ts).

FROM node:24-bookworm-slim AS build
# node-gyp builds the SO_ORIGINAL_DST addon against the image's own Node headers.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the `node` devDependency would fetch a second Node; the image already has 24.
# The devDependencies (tsc, node-gyp, the benchmark's http-proxy-3, esbuild and the dashboard's Preact, uPlot
# and Cytoscape.js, which `npm run build` bundles into dist/dashboard) and the optional linux-x64 buf binary exist
# only in this stage: `npm prune --omit=dev --omit=optional` leaves the runtime dependencies alone.
RUN npm ci --ignore-scripts
COPY . .
# The image carries no tests, benchmarks, dev dependencies or optional code-generation binaries (buf).
RUN npm run build && npm prune --omit=dev --omit=optional --ignore-scripts \
 && rm -rf dist/test dist/bench dist/.tsbuildinfo && find dist -name '*.test.js' -o -name '*.test.js.map' | xargs rm -f

FROM node:24-bookworm-slim
# proxy-init programs the pod's nat table with iptables-restore (nft backend) and ip6tables-restore.
RUN apt-get update && apt-get install -y --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/manifests/crds ./manifests/crds
COPY --from=build /src/proxy/native/build/Release/original_dst.node ./proxy/native/build/Release/original_dst.node
# Non-root unless a pod says otherwise: the control plane runs as 65532, the proxy as 7102.
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/weft.js"]
