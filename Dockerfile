# fictures-seed in a container: `docker build -t fictures-seed .`, then
# `docker run --rm --network host -e DATABASE_URL -e REDIS_URL fictures-seed verify`.
# Stage 1 builds with the dependencies in a layer of their own, so changing
# the tool's source does not rebuild them.
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /build
COPY Cargo.toml Cargo.lock ./
# A stub target and bench, so `cargo build` compiles only the dependencies.
RUN mkdir -p src benches/bench \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > benches/bench/main.rs \
 && cargo build --release --locked \
 && rm -rf src
COPY src ./src
COPY migrations ./migrations
COPY seeds ./seeds
# The stub's build stamp is older than the real sources; touch so cargo rebuilds.
RUN touch src/main.rs && cargo build --release --locked

# Stage 2: the binary alone on a small Debian with CA roots (rustls reads the
# WebPKI roots built in; the CA bundle serves --redis-ca-cert and sslrootcert
# paths users mount).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /work --create-home fictures
COPY --from=builder /build/target/release/fictures-seed /usr/local/bin/fictures-seed
USER fictures
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/fictures-seed"]
CMD ["--help"]
