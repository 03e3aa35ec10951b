# syntax=docker/dockerfile:1
#
# damon-otel container image: the NativeAOT agent (one native executable) on a minimal runtime base.
#
# Build:   docker build --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#            -t damon-otel:0.1.0 .
#
# Run (one per node; DAMON is a per-kernel facility):
#   docker run -d --name damon-otel \
#     --privileged --pid=host \
#     -v /sys:/host/sys \
#     -v /sys/kernel/tracing:/host/sys/kernel/tracing \
#     -v /proc:/host/proc:ro \
#     -v /etc/damon-otel:/etc/damon-otel:ro \
#     -v /run/damon-otel:/run/damon-otel \
#     -p 9464:9464 damon-otel:0.1.0
#
# Privileges and mounts, and why:
# * --privileged (or at least --cap-add SYS_ADMIN with /sys mounted read-write and no
#   AppArmor/seccomp profile blocking tracefs): container runtimes mount /sys read-only and mask
#   parts of it; DAMON's sysfs interface (/sys/kernel/mm/damon/admin, root-only files) and
#   tracefs instances must be writable when the agent starts kdamonds or reads the
#   damon:damon_aggregated tracepoint. A read-only observer of DAMON_STAT needs only the
#   read-only mounts.
# * --pid=host: the kernel resolves the pids written to DAMON's pid_target in the writer's PID
#   namespace, and pid/process-name targets are found in the host's /proc.
# * /sys -> /host/sys, /sys/kernel/tracing -> /host/sys/kernel/tracing (tracefs is its own mount
#   under /sys, so it is mounted explicitly), /proc -> /host/proc (read-only: RSS of targets,
#   kdamond CPU time). The agent takes these roots from --path.sysfs/--path.tracefs/--path.procfs.
# * /etc/damon-otel/config.yaml: the agent config (the image holds deploy/config/container.yaml).
# * /run/damon-otel: the state dir; keep it on the host so a restarted agent can find and stop
#   the kdamonds it started before a crash.
# * Port 9464: Prometheus /metrics, /healthz (liveness), /readyz (readiness).
#
# Base images, pinned to exact versions so a rebuild gets the same toolchain:
# * sdk:10.0.401: the SDK the project is built and tested with (global.json rolls forward to it);
#   it bundles the 10.0.12 runtime, which the self-contained publish embeds.
# * runtime-deps:10.0.12: the native libraries of that runtime (glibc, OpenSSL, CA certificates),
#   and nothing of .NET itself. A self-contained single file and a NativeAOT binary both run on it.
# * Both on Ubuntu 24.04 "noble" (.NET 10's default distro): a binary linked on the build stage
#   (NativeAOT links against its glibc) needs at least that glibc at run time.
# An exact tag can still be re-pushed with OS security fixes; only a digest is immutable. No
# registry was reachable where these pins were chosen, so there are no digests; to freeze the bytes
# as well, append one: `docker buildx imagetools inspect IMAGE:TAG` prints it, then
# FROM IMAGE:TAG@sha256:DIGEST (tests/DamonOtel.Ecosystem.Tests accepts that form).

FROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build
# NativeAOT links with the platform toolchain (clang, or gcc), which the SDK image lacks; zlib and
# brotli come with the ILCompiler package.
RUN apt-get update && apt-get install -y --no-install-recommends clang && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The same publish command the tests use (one definition: scripts/publish-agent.sh).
RUN ./scripts/publish-agent.sh /out

# runtime-deps carries only the native libraries a self-contained or NativeAOT .NET app needs.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0.12-noble
# OCI image labels (registries, scanners and `docker inspect` show them). VERSION and REVISION come
# from the build command; SOURCE is the repository the image is built from.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/damon-otel/damon-otel
# No license has been declared for the project yet (no LICENSE file): SPDX's NOASSERTION says so.
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="damon-otel" \
      org.opencontainers.image.description="DAMON (the Linux data access monitor) as OpenTelemetry and Prometheus metrics: working set, idle-time distribution, DAMOS scheme statistics" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="mcr.microsoft.com/dotnet/runtime-deps:10.0.12-noble"
COPY --from=build /out/damon-otel /usr/local/bin/damon-otel
# The container config: roots under /host (the CMD's flags say the same, so a mounted host-style
# config also works).
COPY deploy/config/container.yaml /etc/damon-otel/config.yaml
# DAMON's sysfs files are root-only (0600/0400), so the agent runs as root (the image's
# non-root "app" user cannot write them).
USER root
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/damon-otel"]
CMD ["run", "--config", "/etc/damon-otel/config.yaml", "--path.sysfs", "/host/sys", "--path.tracefs", "/host/sys/kernel/tracing", "--path.procfs", "/host/proc"]
