# syntax=docker/dockerfile:1
#
# The `qubital` image: one binary, every role (`serve`, workers, `migrate`, `check`).
#
#   docker build -t ghcr.io/qubital/backend .
#   docker run --rm -e DATABASE_URL=... ghcr.io/qubital/backend            # serve
#   docker run --rm -e DATABASE_URL=... ghcr.io/qubital/backend migrate    # the release step
#
# Layers: the dependency graph is compiled in its own layer from a recipe of the manifests
# (cargo-chef), so a change to our source rebuilds only our crates. The runtime image is
# distroless: glibc, CA certificates, a non-root user, no shell, no compiler. No HEALTHCHECK:
# the platform probes /healthz and /readyz.

ARG RUST_VERSION=1.95

FROM lukemathwalker/cargo-chef:latest-rust-${RUST_VERSION}-slim-bookworm AS chef
WORKDIR /build

# 1. The recipe: only the manifests (and build scripts) of the workspace.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# 2. Dependencies, cached until a manifest or Cargo.lock changes.
FROM chef AS dependencies
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --package qubital --recipe-path recipe.json

# 3. Our crates. Migrations are embedded at compile time (sqlx::migrate!).
FROM dependencies AS builder
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY .cargo .cargo
COPY host host
COPY features features
COPY platform platform
COPY migrations migrations
COPY openapi openapi
COPY xtask xtask
RUN cargo build --release --locked --package qubital --bin qubital \
 && install -D target/release/qubital /out/qubital

# 4. The runtime: the binary alone.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/qubital /usr/local/bin/qubital
USER nonroot:nonroot
EXPOSE 8080 9090
ENTRYPOINT ["qubital"]
CMD ["serve"]
