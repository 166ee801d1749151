#!/usr/bin/env bash
# What the test suite needs on a fresh Debian 12 machine (CI runs as root). Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends \
    nginx \
    openssl \
    curl \
    postgresql \
    docker-compose
