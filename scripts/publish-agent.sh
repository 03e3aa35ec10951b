#!/usr/bin/env bash
# The one definition of how the damon-otel agent is published. The Dockerfile and the
# ecosystem tests both call this script, so the image and the tests always run the same
# self-contained single-file binary (tests/DamonOtel.Ecosystem.Tests checks the Dockerfile uses it).
#
# Usage: scripts/publish-agent.sh [OUTPUT_DIR]   (default: ./out; the binary is OUTPUT_DIR/damon-otel)
set -euo pipefail

out="${1:-out}"
# Resolve the output directory against the caller's working directory before changing to the repo.
case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Its own build tree (artifacts/publish-build): the publish restores with the runtime identifier,
# the development builds and tests without; sharing each project's obj/ would make every switch
# between the two rebuild all projects (minutes on a busy machine instead of ~20 s).
dotnet publish src/DamonOtel.Agent -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:InvariantGlobalization=true -p:UseArtifactsOutput=true "-p:ArtifactsPath=$PWD/artifacts/publish-build" -o "$out"
