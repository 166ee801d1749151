#!/usr/bin/env bash
# Regenerate screenshots/ from the real app's drawing code.
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_SCREENSHOTS=1 cargo test --release --test screenshots
