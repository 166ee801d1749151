# Sourced by the scripts that fetch from Debian (test-deps.sh, postgres-image.sh).
# The Debian archive this system already uses (deb822 `URIs:` lines first, then one-line
# `deb` entries), so the repository names no package host: a machine behind its own mirror
# fetches from it. The security archive serves only its own suites, so it is skipped.
debian_mirror() {
  {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'tolower($1) == "uris:" {for (i = 2; i <= NF; i++) print $i}'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/\[[^]]*\]//' | awk '$1 == "deb" {print $2}'
  } | grep -v -e '-security' -e '^cdrom:' | awk 'NR == 1' || true
}
