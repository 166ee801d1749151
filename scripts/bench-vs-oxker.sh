#!/usr/bin/env bash
# Side by side with oxker (a Rust container TUI) watching the same containers: resident
# memory and idle CPU of each, and odoo-ops' figures as ratios of oxker's.
#
#   scripts/bench-vs-oxker.sh [SECONDS]
#
# Needs: the packaged build of odoo-ops (`cargo build --profile dist`, see README's Build;
# ODOO_OPS_BIN names another build, e.g. target/release/odoo-ops), `oxker` on PATH (cargo
# install oxker), tmux, Docker, and the stand-in image odoo-ops-test/odoo:18.0-20261101
# (built by the tests). Starts three labelled containers, runs both TUIs in a private tmux
# server at 200x50, samples /proc for SECONDS (default 30) after a 10 s warm-up, and removes
# everything it started. The machine may be shared: the load average is printed with the
# figures.
set -euo pipefail
SECONDS_TO_SAMPLE=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${ODOO_OPS_BIN:-$ROOT/target/dist/odoo-ops}"   # another build to compare
[ -x "$BIN" ] || { echo "no $BIN: cargo build --profile dist (or set ODOO_OPS_BIN)"; exit 1; }
# nm prints "no symbols" (to stderr, exit status 0) for a stripped binary.
if [ -n "$(nm "$BIN" 2>/dev/null | head -1)" ]; then symbols="with symbols"; else symbols="stripped"; fi
echo "binary: $BIN ($(du -h "$BIN" | cut -f1), $symbols)"
. "$ROOT/scripts/lib/labelled-stack.sh"
PROJECT="ooptest-oxker-$$"
SOCK="/tmp/odoo-ops-bench-tmux-$$"
HZ=$(getconf CLK_TCK)

cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    rm -f "$SOCK"
    remove_labelled_stack "$PROJECT"
}
trap cleanup EXIT

# A release build made with ODOO_OPS_PACKAGED_LINK=1 (build.rs) also has a recorded code
# layout and packed relocations; say which kind of build this is.
if readelf -d "$BIN" | grep -q RELR; then
    echo "build: packed relocations (ODOO_OPS_PACKAGED_LINK=1)"
fi
ORDER="$ROOT/build/hot-code.order"
if [ -f "$ORDER" ] && [ "$symbols" = "with symbols" ]; then
    defined=$(nm --defined-only "$BIN" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u)
    listed=$(grep -vc '^#' "$ORDER")
    found=$(grep -v '^#' "$ORDER" | grep -cFx -f <(echo "$defined") || true)
    echo "hot-code order: $found of $listed functions found in the binary"
fi

start_labelled_stack "$PROJECT"

export HOME=$(mktemp -d)   # default settings for both tools
tmux -S "$SOCK" new-session -d -s bench -x 200 -y 50 "$BIN"
tmux -S "$SOCK" new-window -t bench "oxker"
sleep 10
pid_of() { pgrep -f -n -x "$1" ; }
OURS=$(tmux -S "$SOCK" list-panes -a -F '#{pane_pid} #{pane_current_command}' | awk '$2 ~ /odoo-ops/ {print $1}')
THEIRS=$(tmux -S "$SOCK" list-panes -a -F '#{pane_pid} #{pane_current_command}' | awk '$2 ~ /oxker/ {print $1}')
[ -n "$OURS" ] && [ -n "$THEIRS" ] || { echo "could not find both processes"; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
o0=$(ticks "$OURS"); t0=$(ticks "$THEIRS")
max_o=0; max_t=0
for _ in $(seq "$SECONDS_TO_SAMPLE"); do
    sleep 1
    r=$(rss "$OURS"); [ "$r" -gt "$max_o" ] && max_o=$r
    r=$(rss "$THEIRS"); [ "$r" -gt "$max_t" ] && max_t=$r
done
o1=$(ticks "$OURS"); t1=$(ticks "$THEIRS")
# Where the resident memory is: the program's own pages (heap, stacks) and the mapped
# files (the executable's code and data, libc), as the kernel counts them.
split() { awk '/RssAnon|RssFile/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$1/status"; }
echo "  odoo-ops: $(split "$OURS")"
echo "  oxker:    $(split "$THEIRS")"
echo "  load average: $(cat /proc/loadavg)"
awk -v o="$((o1 - o0))" -v t="$((t1 - t0))" -v hz="$HZ" -v s="$SECONDS_TO_SAMPLE" \
    -v ro="$max_o" -v rt="$max_t" 'BEGIN {
    co = o / hz / s * 100; ct = t / hz / s * 100;
    printf "idle over %d s, 3 containers, 200x50:\n", s;
    printf "  odoo-ops: RSS %.1f MB, CPU %.2f%%\n", ro / 1024, co;
    printf "  oxker:    RSS %.1f MB, CPU %.2f%%\n", rt / 1024, ct;
    printf "  ratios odoo-ops/oxker: RSS %.2f, CPU %s\n", ro / rt, (ct > 0 ? sprintf("%.2f", co / ct) : "n/a (oxker used no measurable CPU)");
}'
