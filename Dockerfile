# Barycenter's release image. The release pipeline builds it once per platform with
# `docker buildx build --platform linux/<arch>`; see release/images.py for the arguments.
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
ARG TARGETPLATFORM
ARG REVISION=unknown
# Names the cache mounts: release.reproduce passes a fresh one so it compiles from nothing.
ARG CACHE_NAMESPACE=barycenter
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Cache ids carry the platform so amd64 and arm64 never share compiled artifacts.
RUN --mount=type=cache,id=${CACHE_NAMESPACE}-cargo-home-${TARGETPLATFORM},target=/usr/local/cargo/registry \
    --mount=type=cache,id=${CACHE_NAMESPACE}-target-${TARGETPLATFORM},target=/src/target \
    BARYCENTER_REVISION="${REVISION}" cargo build --release --locked --offline \
    && install -D -m 0755 target/release/barycenter /out/barycenter

# Holds only the binary, for `--target bin --output type=local` extraction into dist/.
FROM scratch AS bin
COPY --from=builder /out/barycenter /barycenter

FROM ${RUNTIME_IMAGE} AS runtime
# The base images by digest (release.build pins both), so anyone can rebuild the same bytes.
ARG RUST_IMAGE
ARG RUNTIME_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG SOURCE=https://github.com/barycenter-oidc/barycenter
LABEL org.opencontainers.image.title="barycenter" \
      org.opencontainers.image.description="Barycenter, an OpenID Connect identity provider" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}" \
      dev.barycenter.builder.image="${RUST_IMAGE}"
COPY --from=builder /out/barycenter /usr/local/bin/barycenter
# A numeric unprivileged user needs no account database entry and no RUN step under emulation.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/barycenter"]
CMD ["--help"]
