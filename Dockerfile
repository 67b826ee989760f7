# Production image: build in the Rust image, run on slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin koogate

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/koogate koogate \
    && mkdir -p /var/lib/koogate && chown koogate /var/lib/koogate
COPY --from=build /src/target/release/koogate /usr/local/bin/koogate
USER koogate
WORKDIR /var/lib/koogate
ENV KOOGATE__SERVER__BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["koogate"]
CMD ["serve"]
