#!/usr/bin/env bash
# Installs the interop peers on a Debian machine (when they are missing) and
# runs the interop and fault-injection suite with the race detector.
#
#   bash interop/run.sh            # from the repository root, as root
#   INTEROP_VERBOSE=1 bash interop/run.sh   # full `go test -v` output
#
# Installs: python3-websockets and nginx-light (apt), node + npm if absent
# (apt), and the Node peer's locked dependencies (`npm ci`). Running it again
# installs nothing. With CI=true a missing peer fails the suite instead of
# skipping it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { printf 'interop: %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "need root to run: $*"
		return 1
	fi
}

# --- Debian packages -------------------------------------------------------
missing=()
if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
	missing+=(python3-websockets)
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	missing+=(nginx-light)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Node peer dependencies ------------------------------------------------
node_dir="$here/peers/node"
want_ws="$(node -p 'require("./peers/node/package-lock.json").packages["node_modules/ws"].version')"
have_ws="$(node -p 'try { require("./peers/node/node_modules/ws/package.json").version } catch (e) { "" }')"
if [ "$want_ws" != "$have_ws" ]; then
	log "installing the Node peer's dependencies (ws $want_ws)"
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
log "peers: node $(node --version), ws $want_ws; python3-websockets $(/usr/bin/python3 -c 'import websockets; print(websockets.__version__)'); $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'); toxiproxy $(sed -n 's/^[[:space:]]*github.com\/Shopify\/toxiproxy\/v2 \(v[^ ]*\).*/\1/p' go.mod)"

# --- The suite -------------------------------------------------------------
out="$(mktemp -t interop-go-test.XXXXXX)"
trap 'rm -f "$out"' EXIT
start=$SECONDS
status=0
if [ "${INTEROP_VERBOSE:-}" = "1" ]; then
	go test -race -count=1 -timeout 10m -v ./... 2>&1 | tee "$out" || status=$?
else
	# Quiet-ish: top-level results, the tests' own log lines, and the
	# package summaries; everything in full when something fails.
	go test -race -count=1 -timeout 10m -v ./... >"$out" 2>&1 || status=$?
	grep -E '^(--- |ok |FAIL|PASS$|panic:)|^[[:space:]]+[a-z_]+_test\.go:[0-9]+: ' "$out" |
		grep -vE '^[[:space:]]+--- PASS' || true
	if [ "$status" -ne 0 ]; then
		log "go test failed; full output follows"
		cat "$out"
	fi
fi
passed=$(grep -cE '^[[:space:]]*--- PASS' "$out" || true)
failed=$(grep -cE '^[[:space:]]*--- FAIL' "$out" || true)
skipped=$(grep -cE '^[[:space:]]*--- SKIP' "$out" || true)
log "finished in $((SECONDS - start))s"
echo "interop: $passed passed, $failed failed, $skipped skipped"
exit "$status"
