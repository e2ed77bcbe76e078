# Lantern for batch jobs: `lantern eval --shard I/N` on a cluster (deploy/slurm, deploy/k8s).
#
#   docker build -t lantern:latest .
#   docker run --rm -v "$PWD/data:/data" lantern:latest eval --data /data --format synth --out /data/eval
#
# Two stages: the build stage compiles the release binary with the full Rust toolchain; the
# runtime stage is Debian slim with the binary and what it needs headless. The binary links only
# glibc and libgcc (the demo model, the fonts and the shaders are compiled in); the window and
# GPU libraries are opened at run time when used, so the CLI on the CPU needs nothing more.
# libvulkan1 is added so that `--device wgpu` finds a GPU that the container runtime exposes
# (NVIDIA Container Toolkit with the graphics capability, below); without one, `--device auto`
# falls back to the CPU.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
# Dependencies first, so that a source change does not rebuild them: a manifest-only build
# with stub targets, then the real sources.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && for b in explain ui_frames screenshots onnx; do echo 'fn main() {}' > "benches/$b.rs"; done \
 && cargo build --release --locked --bin lantern \
 && rm -rf src benches
COPY . .
# The stub build left newer timestamps on the stubs' outputs: touch the real sources.
RUN find src -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --bin lantern \
 && cp target/release/lantern /usr/local/bin/lantern \
 && /usr/local/bin/lantern --version

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 lantern
COPY --from=build /usr/local/bin/lantern /usr/local/bin/lantern
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    NO_COLOR=1
USER lantern
WORKDIR /home/lantern
ENTRYPOINT ["lantern"]
CMD ["--help"]
