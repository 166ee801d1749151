#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: installs the packages the tests
# need, makes sure the Docker engine answers, then runs the suite. Each test starts its own
# servers (sshd, nginx, PostgreSQL, the Odoo stand-in) on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-deps.sh

if ! docker info >/dev/null 2>&1; then
  echo "Docker engine not answering; starting dockerd"
  (dockerd >/tmp/odoo-ops-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/odoo-ops-dockerd.log"; exit 1; }
fi

# The real PostgreSQL image of a droplet's `db` service (no registry: debootstrap, docker
# import, Debian's postgresql-15); built once per machine, cached by a tag of its inputs.
scripts/postgres-image.sh >/dev/null

# Release profile: the end-to-end tests drive the release binary, and one profile means
# one build.
cargo test --release --locked "$@"
