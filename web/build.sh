#!/usr/bin/env bash
# Builds the browser bundle (issue 17): the viewer for wasm32-unknown-unknown, bound with
# wasm-bindgen, beside the page. From a fresh clone:
#
#   bash web/build.sh [DIR]        # DIR defaults to web/dist (what `overlook web` serves)
#
# Installs what is missing: the wasm32-unknown-unknown target, and the wasm-bindgen-cli of the
# version Cargo.lock pins (into ${OVERLOOK_TOOLS:-~/.cache/overlook/tools}, once: ~8 minutes on
# 2 cores). The build uses CARGO_TARGET_DIR (default ~/.cache/overlook/target, as .ci/run does).
# OVERLOOK_WASM_OPT=1 also runs npm binaryen's wasm-opt -Oz (slow; Debian's binaryen 108 breaks
# the module).
set -euo pipefail
started=$SECONDS
root="$(cd "$(dirname "$0")/.." && pwd)"
# DIR is relative to where the script was called from, not to the repository.
if [[ $# -ge 1 ]]; then
    mkdir -p "$1"
    dist="$(cd "$1" && pwd)"
else
    dist="$root/web/dist"
fi
cd "$root"

tools="${OVERLOOK_TOOLS:-$HOME/.cache/overlook/tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/overlook/target}"

# Not grep -q: under pipefail, rustup could die of SIGPIPE once grep -q exits at its match.
if ! rustup target list --installed | grep -x wasm32-unknown-unknown >/dev/null; then
    rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen's CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ -z "$version" ]]; then
    echo "build.sh: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
bindgen="$tools/bin/wasm-bindgen"
if [[ "$("$bindgen" --version 2>/dev/null)" != "wasm-bindgen $version" ]]; then
    echo "installing wasm-bindgen-cli $version into $tools (once)"
    # Not --locked: with it, 0.2.130's lock file failed to resolve here (webpki-roots).
    # --force: a wasm-bindgen of another version (or one copied in) may be there already.
    cargo install wasm-bindgen-cli --version "=$version" --root "$tools" --force
fi

cargo build --profile web --target wasm32-unknown-unknown -p overlook --bin overlook
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/web/overlook.wasm"

mkdir -p "$dist"
"$bindgen" --target web --no-typescript --remove-name-section --out-name overlook \
    --out-dir "$dist" "$wasm"
if [[ "${OVERLOOK_WASM_OPT:-0}" == 1 ]]; then
    npx --yes -p binaryen@132 wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-reference-types --enable-multivalue --enable-mutable-globals \
        -o "$dist/overlook_bg.wasm" "$dist/overlook_bg.wasm"
fi
cp web/index.html "$dist/index.html"

size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
wasm_raw=$(size "$dist/overlook_bg.wasm")
wasm_gz=$(gz "$dist/overlook_bg.wasm")
js_raw=$(size "$dist/overlook.js")
js_gz=$(gz "$dist/overlook.js")
seconds=$((SECONDS - started))
printf '%s\n' "{\"wasm_bytes\": $wasm_raw, \"wasm_gzip_bytes\": $wasm_gz, \"js_bytes\": $js_raw, \"js_gzip_bytes\": $js_gz, \"build_seconds\": $seconds}" \
    >"$dist/sizes.json"
printf 'bundle in %s (%d s)\n' "$dist" "$seconds"
printf '  %-18s %12s %12s\n' file bytes gzip-9
printf '  %-18s %12d %12d\n' overlook_bg.wasm "$wasm_raw" "$wasm_gz" overlook.js "$js_raw" "$js_gz"
