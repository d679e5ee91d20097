# syntax=docker/dockerfile:1
# The publish-artifact tool image, for linux/amd64 and linux/arm64: a
# Woodpecker step image (with `commands:`) or a plugin (with `settings:`,
# which arrive as PLUGIN_*). FROM scratch: the static musl binary, CA
# certificates, an /etc/passwd naming uid 10001 with a writable home, a
# writable /tmp; nothing else (no shell, no libc). docs/shipping.md says
# more.
#
# One Dockerfile, two ways to the same image:
# - Docker: `docker buildx build --platform linux/amd64,linux/arm64 .`
#   builds the binaries in the `source` stage (on the build platform, cross
#   to the target) from this tree.
# - Here, with no daemon: `just image` (scripts/image.sh) builds the
#   binaries with `just static`, lays each platform's root filesystem as a
#   tarball (scripts/image-root.sh) and builds with buildah, `--build-arg
#   BINARIES=context`, the context being those tarballs.
# Either way the last stage takes one root filesystem, owners and modes as
# scripts/image-root.sh made them, from the stage named `root`.
ARG BINARIES=source

FROM --platform=$BUILDPLATFORM rust:1.95-bookworm AS source
ARG TARGETARCH
RUN dpkg --add-architecture arm64 \
    && apt-get update \
    && apt-get install -y --no-install-recommends musl-tools musl-dev:arm64 \
        gcc-aarch64-linux-gnu qemu-user-static ca-certificates file \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add wasm32-wasip2 x86_64-unknown-linux-musl aarch64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN case "$TARGETARCH" in amd64) triple=x86_64-unknown-linux-musl ;; \
        arm64) triple=aarch64-unknown-linux-musl ;; esac \
    && CARGO_TARGET_DIR=/target scripts/static.sh "$triple" \
    && scripts/image-root.sh "/target/$triple/release/publish-artifact" /out/rootfs

FROM scratch AS context
ARG TARGETARCH
# A local tarball is unpacked as it is: its owners, modes and times.
ADD ${TARGETARCH}/rootfs.tar /out/rootfs/

FROM ${BINARIES} AS root

FROM scratch
COPY --from=root /out/rootfs/ /
USER 10001:10001
ENV HOME=/home/publisher \
    PUBLISH_ARTIFACT_CACHE_DIR=/home/publisher/.cache/publish-artifact \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /home/publisher
ENTRYPOINT ["/usr/local/bin/publish-artifact"]
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="publish-artifact" \
      org.opencontainers.image.description="Seals a build artifact and publishes it to S3 and an admin API" \
      org.opencontainers.image.source="https://example.invalid/publish-artifact" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
