#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, builds, runs every test tier
# (unit, fixture, Simulator, golden + promtool, real Prometheus, OTLP wire decoding) and the
# real-kernel VM test, then prints one "N passed, N failed" line. Exit code 0 only if all pass.
# The agent is published once (NativeAOT, scripts/publish-agent.sh) and every tier that runs its
# binary runs that publish (DAMON_OTEL_AGENT_BINARY=<binary> skips the publish).
#
#   scripts/test.sh              everything (about 25-30 minutes on 2 cores)
#   SKIP_VM=1 scripts/test.sh    without the VM test (says so in the summary; CI never sets it)
#   SKIP_SOAK=1 scripts/test.sh  without the 10-minute soak test (says so; CI never sets it)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# ---- 1. what the tests use from Debian -----------------------------------------------------
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus >/dev/null || need+=(prometheus)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v mandoc >/dev/null || need+=(mandoc)
command -v man >/dev/null || need+=(man-db)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v gcc >/dev/null || need+=(gcc)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v xz >/dev/null || need+=(xz-utils)
command -v cpio >/dev/null || need+=(cpio)
# damo (fetched privately by scripts/fetch-damo.sh) runs on Debian's python3 and reads records via file(1).
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
command -v file >/dev/null || need+=(file)
command -v unshare >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
	log "installing: ${need[*]}"
	SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
command -v dotnet >/dev/null || { echo "the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 2; }

# ---- 2. build once, strict (warnings are errors) --------------------------------------------
log "fetching damo 2.8.3 and 3.4.1 (scripts/fetch-damo.sh; cached after the first run)"
scripts/fetch-damo.sh all >/dev/null

log "building"
dotnet build DamonOtel.sln -c Release -nologo -v q -clp:ErrorsOnly

# ---- 2b. the shipped agent, published once -----------------------------------------------------
# Every tier that runs the agent binary runs this NativeAOT publish: the EndToEnd and Ecosystem
# tests (DAMON_OTEL_AGENT_BINARY) and the VM test (DAMON_OTEL_VM_AGENT_DIR). A caller's own
# publish in those variables is used as it is.
if [[ -z ${DAMON_OTEL_AGENT_BINARY:-} ]]; then
	agent_dir=$PWD/artifacts/test-agent
	mkdir -p artifacts
	log "publishing the agent (scripts/publish-agent.sh $agent_dir: NativeAOT)"
	if ! scripts/publish-agent.sh "$agent_dir" >"$PWD/artifacts/test-agent-publish.log" 2>&1; then
		tail -20 "$PWD/artifacts/test-agent-publish.log" >&2
		echo "scripts/publish-agent.sh failed (log: artifacts/test-agent-publish.log)" >&2
		exit 2
	fi
	export DAMON_OTEL_AGENT_BINARY=$agent_dir/damon-otel
fi
[[ -x $DAMON_OTEL_AGENT_BINARY ]] || { echo "DAMON_OTEL_AGENT_BINARY=$DAMON_OTEL_AGENT_BINARY is not an executable" >&2; exit 2; }
export DAMON_OTEL_VM_AGENT_DIR=${DAMON_OTEL_VM_AGENT_DIR:-$(dirname "$DAMON_OTEL_AGENT_BINARY")}
log "agent under test: $DAMON_OTEL_AGENT_BINARY"

# ---- 3. the .NET test projects ----------------------------------------------------------------
passed=0 failed=0 skipped=0 status=0
results=$(mktemp -d)
for proj in tests/*/*.Tests.csproj; do
	name=$(basename "$proj" .csproj)
	log "running $name"
	if ! dotnet test "$proj" -c Release --no-build -nologo --logger "trx;LogFileName=$name.trx" --results-directory "$results" 2>&1 | tee "$results/$name.log" | grep -E '^\s*(Failed|Passed!|Failed!|Skipped) |error' ; then :; fi
	trx="$results/$name.trx"
	if [[ ! -f $trx ]]; then
		log "$name: no results (crashed?)"; failed=$((failed + 1)); status=1; continue
	fi
	read -r t p f s < <(python3 - "$trx" <<'PY'
import sys, xml.etree.ElementTree as ET
c = ET.parse(sys.argv[1]).getroot().find('{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}ResultSummary/{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}Counters')
print(c.get('total'), c.get('passed'), int(c.get('failed')) + int(c.get('error')) + int(c.get('timeout')) + int(c.get('aborted')), c.get('notExecuted'))
PY
)
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	((f == 0 && s == 0)) || status=1
done

# ---- 4. the real kernel in a VM ---------------------------------------------------------------
if [[ ${SKIP_VM:-0} == 1 ]]; then
	log "VM test skipped (SKIP_VM=1): the real-kernel tier was NOT run"
	skipped=$((skipped + 1)); status=1
else
	log "running tests/vm/run"
	if tests/vm/run; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
fi

# ---- 5. the soak test (tests/soak), after the VM test -------------------------------------------
# Ten minutes of `run --simulate` under random faults, reloads, 200 scrapers and a slowloris. Not
# next to the VM test: its idle-age checks need the guest's vCPUs, and two cores cannot serve both.
if [[ ${SKIP_SOAK:-0} == 1 ]]; then
	log "soak test skipped (SKIP_SOAK=1): it was NOT run"
	skipped=$((skipped + 1)); status=1
else
	log "running the soak test (tests/soak/run, ${SOAK_MINUTES:-10} min)"
	if SOAK_NO_BUILD=1 SOAK_REPORT="$results/soak-report.txt" tests/soak/run >"$results/soak.log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); status=1
	fi
	sed -n '/^soak report/,$p' "$results/soak.log"
fi

echo
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
