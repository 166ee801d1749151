#!/usr/bin/env bash
# Packages the test suite needs on a fresh Debian 12 machine (CI runs as root).
# Idempotent: apt-get skips what is already installed.
# openssh-*: the sshd the SSH tests start, ssh/ssh-keygen/ssh-agent/ssh-add;
# bsdutils: `script`, a real pseudo terminal for the prompt test.
set -euo pipefail

apt-get install -y --no-install-recommends \
    openssh-server openssh-client bsdutils
