# syntax=docker/dockerfile:1.7
#
# histo — distributed histogram equalization (MapReduce over ZooKeeper).
# Multi-stage build: a full Rust toolchain compiles the workspace, and only the
# static-ish `histo` binary is copied into a distroless runtime (glibc + libgcc,
# no shell, no package manager, runs as the `nonroot` user 65532).
#
#   docker build -t histo:dev .
#   docker run --rm -p 8080:8080 histo:dev serve --listen 0.0.0.0:8080

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

############################
# Stage 1: build
############################
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src

# The whole (filtered, see .dockerignore) workspace: the lockfile is mandatory
# (--locked), and the dashboard embeds deploy/ and k8s/ at build time for the
# deployment replay, so they are part of the context too.
COPY . .

# Registry and target dir live in BuildKit cache mounts, so rebuilds after a
# source change only recompile the crates that changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p histo-cli \
 && install -D -m 0755 target/release/histo /out/histo

############################
# Stage 2: runtime
############################
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

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
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build --chown=0:0 --chmod=0755 /out/histo /usr/local/bin/histo

# 65532 is distroless' `nonroot`; numeric so Kubernetes can verify runAsNonRoot.
USER 65532:65532

# 8080: master HTTP API + dashboard; 7070: worker gRPC.
EXPOSE 8080 7070

# Exec form: there is no shell in this image. `histo healthcheck` GETs
# http://127.0.0.1:8080/healthz and exits 0 (healthy) or 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/histo", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/histo"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
