# Production image: build in the Rust image, run on slim Debian with only
# the binary and CA certificates (no compiler, no package manager cache).
# Image names are fully qualified: stricter engines (Podman, CRI-O with
# short-name enforcement) refuse `rust:…`. See .dockerignore for what never
# enters the build context (target/, SQLite files, the master key).
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin koogate

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 koogate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/koogate --shell /usr/sbin/nologin koogate \
    && mkdir -p /var/lib/koogate \
    && chown koogate:koogate /var/lib/koogate
COPY --from=build /src/target/release/koogate /usr/local/bin/koogate
# Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/koogate
ENV KOOGATE__SERVER__BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["koogate"]
CMD ["serve"]
