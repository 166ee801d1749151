#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine. Idempotent: a package already
# there is not fetched again.
set -euo pipefail

packages=(
  openssh-server openssh-client   # a real sshd for the SSH target's tests
  nginx                           # real nginx in front of the Odoo stand-in
  postgresql                      # a real PostgreSQL started per test
  tmux                            # the end-to-end terminal tests
  procps                          # pgrep/ps in tests
  bsdutils                        # `script`: a real pseudo terminal for the prompt test
  binutils                        # objdump: the stack frames test reads the binary
  hyperfine                       # benchmarks against shell baselines
  openssl curl                    # test certificates; shell baselines in benchmarks
  docker-compose                  # Compose v1, as Debian ships it (`docker-compose config`)
  python3-passlib                 # cross-checks the admin_passwd hash against passlib
  debootstrap                     # the Debian root of the tests' PostgreSQL image
  cloud-init                      # checks the droplet user data with cloud-init's own schema
  pebble certbot                  # the TLS step issues for real against an ACME test server;
                                  # pebble-challtestsrv is the DNS server the DNS step waits on
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  # Packages must not start their own services: the tests start theirs on free ports.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  $sudo rm -f /usr/sbin/policy-rc.d
fi

# Compose v2, as real droplets have it (`docker compose`). Debian 12 ships only v1, so the
# plugin comes from Debian 13's package, fetched and signature-checked by apt with a
# private sources list (the system's sources stay untouched), and unpacked where Docker
# finds it only when DOCKER_CONFIG points there: tests choose v1 or v2 per host.
compose_v2_config=/opt/odoo-ops-test/compose-v2

source "$(dirname "$0")/lib/debian-mirror.sh"
if ! DOCKER_CONFIG=$compose_v2_config docker compose version >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || { echo "no Debian mirror in the system's apt sources" >&2; exit 1; }
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
    >"$work/sources.list"
  apt_private=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)
  echo "fetching Compose v2 (Debian 13's docker-compose) into $compose_v2_config"
  apt-get "${apt_private[@]}" -qq update
  (cd "$work" && apt-get "${apt_private[@]}" -qq download docker-compose)
  dpkg-deb -x "$work"/docker-compose_2*.deb "$work/root"
  $sudo install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" \
    "$compose_v2_config/cli-plugins/docker-compose"
  DOCKER_CONFIG=$compose_v2_config docker compose version
fi
