# syntax=docker/dockerfile:1
#
# Scribe: one image for every process kind. The default command is `scribe api`;
# run `scribe worker` or `scribe migrate` by passing the subcommand:
#
#   docker build -t scribe .
#   docker run --rm -e DATABASE_URL=… scribe migrate
#   docker run --rm -e DATABASE_URL=… -e JWT_SECRET=… -p 8080:8080 scribe
#   docker run --rm -e DATABASE_URL=… scribe worker

# ================================
# Build: Swift 6.3 on Debian 12 (bookworm), like the development machines
# ================================
FROM swift:6.3-bookworm AS build

# Headers and pkg-config data of Tesseract and Leptonica, for the CTesseract
# system library target (pkgConfig: "tesseract").
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends pkg-config libtesseract-dev libleptonica-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Dependencies first, so this layer is reused until Package.swift changes.
# Package.resolved is not committed; when the build context has one, its pins are used.
COPY Package.swift Package.resolved* ./
RUN swift package resolve \
        $([ -f ./Package.resolved ] && echo "--force-resolved-versions" || true)

# The manifest names the test targets too, so Tests/ must exist for it to load
# (only the `scribe` product is built).
COPY Sources ./Sources
COPY Tests ./Tests
COPY sql ./sql
COPY web ./web

# The Swift runtime and Foundation are linked statically; Tesseract, Leptonica
# and glibc stay dynamic. .build lives in a cache mount, so the binary is
# copied out in the same step.
RUN --mount=type=cache,target=/build/.build \
    swift build -c release --product scribe --static-swift-stdlib \
    && mkdir -p /staging \
    && cp "$(swift build -c release --show-bin-path)/scribe" /staging/scribe \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/ \
    && cp -R sql /staging/sql \
    && cp -R web /staging/web

# ================================
# Runtime: Debian 12 slim with Tesseract, its language data and poppler
# ================================
FROM debian:bookworm-slim

# libtesseract5 brings liblept5, libgomp1, libarchive13, libcurl4 and the
# image codecs; tesseract-ocr-osd is the orientation data that turns
# sideways and upside-down pages upright; poppler-utils provides pdfinfo, pdftotext, pdfimages and
# pdftoppm; ca-certificates lets the LLM client verify TLS.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends \
        libtesseract5 liblept5 tesseract-ocr-eng tesseract-ocr-rus tesseract-ocr-osd \
        poppler-utils ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user; /app stays owned by root, so the binary and the
# migrations are read-only to the process (PDFs are staged in /tmp).
RUN useradd --system --user-group --no-create-home --home-dir /app --shell /usr/sbin/nologin scribe

WORKDIR /app
COPY --from=build /staging/ /app/

ENV HOST=0.0.0.0 \
    PORT=8080 \
    MIGRATIONS_PATH=/app/sql \
    WEB_ROOT=/app/web \
    OMP_THREAD_LIMIT=1 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/app/swift-backtrace-static

USER scribe:scribe
EXPOSE 8080

# No HEALTHCHECK: the slim image has no HTTP client. Probe GET /health
# (liveness) and GET /ready (database reachable) from the orchestrator.
ENTRYPOINT ["/app/scribe"]
CMD ["api"]
