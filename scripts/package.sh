#!/usr/bin/env bash
# The packaged console binary, its code laid out from a record of this very build: the
# order file is regenerated on every packaging, so it never decays with the commits.
#
#   scripts/package.sh [OUT]          (default target/dist/odoo-ops.packaged)
#
# 1. `cargo build --profile dist` keeping its symbols (the names the order file lists);
# 2. scripts/hot-code-order.sh records the functions that build runs in a console session
#    (valgrind) into build/hot-code.order;
# 3. the same build linked again with ODOO_OPS_PACKAGED_LINK=1 (build.rs: that order, and
#    packed relocations when this machine's glibc has them, >= 2.36: package such a binary
#    only for systems that have it), still with symbols;
# 4. stripped after the link. Stripping inside the build (profile `strip = true`) changes
#    the names the linker sees, and the order then matches nothing (measured: 14.7 MB
#    resident against 9.9 MB for the same code laid out).
# Needs what hot-code-order.sh needs (valgrind, tmux, Docker, the stand-in image built by
# the tests). Takes about 10 minutes on two cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="${1:-$ROOT/target/dist/odoo-ops.packaged}"
cd "$ROOT"
KEEP_SYMBOLS=(--config profile.dist.strip=false --config 'profile.dist.package.odoo-ops.strip=false')
RECORDED="$ROOT/target/dist/odoo-ops.recorded"

ODOO_OPS_PACKAGED_LINK=0 cargo build --locked --profile dist "${KEEP_SYMBOLS[@]}"
cp target/dist/odoo-ops "$RECORDED"
ODOO_OPS_BIN="$RECORDED" scripts/hot-code-order.sh
ODOO_OPS_PACKAGED_LINK=1 cargo build --locked --profile dist "${KEEP_SYMBOLS[@]}"
strip -o "$OUT" target/dist/odoo-ops
rm -f "$RECORDED"
echo "packaged: ${OUT#"$ROOT"/} ($(du -h "$OUT" | cut -f1)); measure it with ODOO_OPS_BIN=$OUT scripts/bench-vs-oxker.sh"
