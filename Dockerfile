# The publish-artifact tool image: usable as a Woodpecker step image (with
# `commands:`) or as a plugin (with `settings:`, which arrive as PLUGIN_*).

FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked --bin publish-artifact \
    && install -D target/dist/publish-artifact /out/publish-artifact \
    && /out/publish-artifact selftest

FROM debian:bookworm-slim
# CA certificates for HTTPS to S3 and the admin API; nothing else is needed
# at run time (the sealing component is inside the binary).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/publisher publisher
COPY --from=build /out/publish-artifact /usr/local/bin/publish-artifact
USER 10001:10001
ENV PUBLISH_ARTIFACT_CACHE_DIR=/home/publisher/.cache/publish-artifact
ENTRYPOINT ["/usr/local/bin/publish-artifact"]
