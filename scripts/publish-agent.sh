#!/usr/bin/env bash
# The one definition of how the damon-otel agent is published. The Dockerfile and the
# ecosystem and VM tests all call this script, so the image and the tests always run the same
# binary (tests/DamonOtel.Ecosystem.Tests checks the Dockerfile uses it).
#
# Usage: scripts/publish-agent.sh [--jit] [OUTPUT_DIR]   (default: ./out; the binary is OUTPUT_DIR/damon-otel)
#
# Default: NativeAOT for linux-x64, the shipped agent (one native executable, no JIT: about a
# third of the memory and a fraction of the start-up CPU of the JIT build; figures in
# bench/README.md). Any trim/AOT warning fails the publish (src/DamonOtel.Agent/DamonOtel.Agent.csproj).
# Needs a C toolchain for the native link: clang, or gcc as a fallback (scripts/test.sh installs
# gcc; zlib and brotli come with the ILCompiler package). The executable needs x86-64-v2 with
# CMPXCHG16B (the NativeAOT runtime uses it unconditionally; SIGILL without it).
# --jit: the previous self-contained single-file JIT build, kept for comparison (bench/agent/run.sh).
# Development runs stay `dotnet run --project src/DamonOtel.Agent -- ...` (JIT, no publish).
set -euo pipefail

mode=aot
if [[ ${1:-} == --jit ]]; then
  mode=jit
  shift
fi
out="${1:-out}"
# Resolve the output directory against the caller's working directory before changing to the repo.
case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $mode == aot ]]; then
  build=(-p:PublishAot=true)
else
  build=(--self-contained -p:PublishSingleFile=true)
fi
# Its own build tree per mode (artifacts/publish-build-<mode>): the publish restores with the
# runtime identifier (and, for NativeAOT, the ILCompiler package), the development builds and
# tests without; sharing each project's obj/ would make every switch between them rebuild all
# projects (minutes on a busy machine instead of ~20 s).
dotnet publish src/DamonOtel.Agent -c Release -r linux-x64 "${build[@]}" -p:InvariantGlobalization=true -p:UseArtifactsOutput=true "-p:ArtifactsPath=$PWD/artifacts/publish-build-$mode" -o "$out"
