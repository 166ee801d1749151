#!/usr/bin/env bash
# Regenerate screenshots/ from the real app driving real parts (Docker, PostgreSQL, nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_SCREENSHOTS=1 cargo test --release --locked --test screenshots
