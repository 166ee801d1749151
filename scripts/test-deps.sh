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
  hyperfine                       # benchmarks against shell baselines
  openssl curl                    # test certificates; shell baselines in benchmarks
  docker-compose                  # Compose v1, as Debian ships it (`docker-compose config`)
  python3-passlib                 # cross-checks the admin_passwd hash against passlib
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
