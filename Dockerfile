# syntax=docker/dockerfile:1
#
# damon-otel container image: the NativeAOT agent (one native executable) on a minimal runtime base.
#
# Build:   docker build -t damon-otel:0.1.0 .
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
#   kdamond CPU time). The agent takes these roots from --sysfs-root/--tracefs-root/--procfs-root.
# * /etc/damon-otel/config.yaml: the agent config (the image holds deploy/config/container.yaml).
# * /run/damon-otel: the state dir; keep it on the host so a restarted agent can find and stop
#   the kdamonds it started before a crash.
# * Port 9464: Prometheus /metrics, /healthz (liveness), /readyz (readiness).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# NativeAOT links with the platform toolchain (clang, or gcc), which the SDK image lacks; zlib and
# brotli come with the ILCompiler package.
RUN apt-get update && apt-get install -y --no-install-recommends clang && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The same publish command the tests use (one definition: scripts/publish-agent.sh).
RUN ./scripts/publish-agent.sh /out

# runtime-deps carries only the native libraries a self-contained .NET app needs (glibc, and the
# OpenSSL the runtime loads with dlopen for hashing).
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0
COPY --from=build /out/damon-otel /usr/local/bin/damon-otel
# The container config: roots under /host (the CMD's flags say the same, so a mounted host-style
# config also works).
COPY deploy/config/container.yaml /etc/damon-otel/config.yaml
# DAMON's sysfs files are root-only (0600/0400), so the agent runs as root (the image's
# non-root "app" user cannot write them).
USER root
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/damon-otel"]
CMD ["run", "--config", "/etc/damon-otel/config.yaml", "--sysfs-root", "/host/sys", "--tracefs-root", "/host/sys/kernel/tracing", "--procfs-root", "/host/proc"]
