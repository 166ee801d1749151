#!/usr/bin/env bash
# Builds the real PostgreSQL image the tests run as a droplet's `db` service, without a
# registry: a Debian root made by debootstrap from the mirror this machine's apt already
# uses, imported with `docker import`, then Debian's postgresql-15 installed in it
# (testkit/postgres-image). Both images are tagged by a hash of their inputs, so a machine
# builds them once and a change to any input builds new ones. Prints the image reference.
set -euo pipefail
cd "$(dirname "$0")/.."

suite=bookworm
context=testkit/postgres-image
inputs_hash() { cat "$@" | sha256sum | cut -c1-12; }
base_ref="odoo-ops-test/debian:$suite-$(inputs_hash "$0" /dev/null)"
image_ref="odoo-ops-test/postgres:15-$(inputs_hash "$0" "$context/Dockerfile" "$context/docker-entrypoint.sh")"

have() { docker image inspect "$1" >/dev/null 2>&1; }

source "$(dirname "$0")/lib/debian-mirror.sh"

if ! have "$image_ref"; then
  if ! have "$base_ref"; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || { echo "no Debian mirror in the system's apt sources" >&2; exit 1; }
    echo "debootstrap $suite from $mirror (once per machine)" >&2
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
    # The image gets the same suites as the host (updates, security).
    rm -f "$root/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null ||
      cp /etc/apt/sources.list "$root/etc/apt/sources.list"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$base_ref" >/dev/null
    rm -rf "$root"
    trap - EXIT
  fi
  echo "building $image_ref (postgresql-15 from Debian)" >&2
  DOCKER_BUILDKIT=0 docker build --quiet --build-arg "BASE=$base_ref" -t "$image_ref" "$context" >/dev/null
fi
echo "$image_ref"
