# histo — distributed histogram equalization (MapReduce over ZooKeeper).
# Multi-stage build: a full Rust toolchain compiles the workspace, and only the
# stripped `histo` binary goes into a minimal runtime (glibc + libgcc, no
# shell, no package manager, runs as the nonroot user 65532).
#
#   docker build -t histo:dev .                 (registry-connected: the public
#                                                 base images below)
#   scripts/image                               (offline: base images made from
#                                                 Debian's packages, the binary
#                                                 built on the host; same stages)
#   docker run --rm -p 8080:8080 histo:dev serve --listen 0.0.0.0:8080
#
# No `# syntax=` line (it would pull a frontend image) and no BuildKit-only
# flags beyond what Docker's built-in BuildKit reads (DOCKER_BUILDKIT=1).

ARG BUILDER_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
# Where the binary comes from: `build` (compiled here) or `prebuilt` (the
# context holds out/histo, as scripts/image makes it).
ARG BINARY_FROM=build

############################
# Stage 1: build
############################
FROM ${BUILDER_IMAGE} AS build
WORKDIR /src

# The whole (filtered, see .dockerignore) workspace: the lockfile is mandatory
# (--locked).
COPY . .

# Registry and target dir live in BuildKit cache mounts, so rebuilds after a
# source change only recompile the crates that changed.
# nasm: libjpeg-turbo's SIMD, which the mozjpeg crate builds from source
# (unpinned: whatever the builder's Debian release ships).
# hadolint ignore=DL3008
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nasm \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p histo-cli \
 && install -D -m 0755 target/release/histo /out/histo \
 && strip /out/histo

############################
# Stage 1, offline: a binary built outside
############################
FROM scratch AS prebuilt
COPY out/histo /out/histo

# checkov:skip=CKV_DOCKER_7: BINARY_FROM names a stage of this file (build or prebuilt), not an image
FROM ${BINARY_FROM} AS binary

############################
# Stage 2: runtime
############################
FROM ${RUNTIME_IMAGE} AS runtime

ARG RUNTIME_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="histo" \
      org.opencontainers.image.description="Distributed histogram equalization: MapReduce master/workers coordinated by Apache ZooKeeper, with a web dashboard" \
      org.opencontainers.image.source="https://github.com/histo-project/histo" \
      org.opencontainers.image.url="https://github.com/histo-project/histo" \
      org.opencontainers.image.documentation="https://github.com/histo-project/histo/blob/main/docs/DEPLOY.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="histo" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

COPY --from=binary /out/histo /usr/local/bin/histo

# mimalloc v3 keeps freed pages 1 s before giving them back; under a steady
# load of uploads that held a master at about 1.5 × its live memory. 100 ms
# gives a quarter back at the same throughput (docs/RELIABILITY.md).
ENV MIMALLOC_PURGE_DELAY=100

# 65532 is `nonroot` in both runtime bases; numeric so Kubernetes can verify
# runAsNonRoot.
USER 65532:65532

# 8080: master HTTP API + dashboard; 7070: worker gRPC.
EXPOSE 8080 7070

# Exec form: there is no shell in this image. `histo healthcheck` GETs
# http://127.0.0.1:8080/healthz and exits 0 (healthy) or 1; a worker sets
# HISTO_HEALTHCHECK_GRPC=127.0.0.1:7070 and it asks the gRPC health service.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/histo", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/histo"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
