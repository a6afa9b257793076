#!/usr/bin/env bash
# System packages the test suite and some features need: libzbar0 (QR decoding of scanned slips),
# fonts-arphic-ukai (the Kai font the OCR tests and benchmarks/paper_scan.py write slips with),
# dovecot-imapd (a real IMAP server for the e-mail tests), chromium (browser tests), nginx-light
# (deploy/nginx/hcp.conf in front of `hcp serve`), postgresql-client (pg_dump for `hcp backup`); and
# axe-core with npm (which must be on PATH) for the accessibility tests.
# Installs the missing ones with apt-get when run as root; otherwise says what is missing and
# carries on — the features that need them report their absence themselves.
set -euo pipefail
# axe-core for the accessibility tests, pinned in tests/a11y/package-lock.json (npm registry, never a CDN).
a11y="$(dirname "$0")/../tests/a11y"
install_axe() {
  if [ -f "$a11y/node_modules/axe-core/axe.min.js" ]; then
    return
  elif command -v npm >/dev/null; then
    npm ci --prefix "$a11y" --no-audit --no-fund >/dev/null
  else
    echo "system-deps: npm missing: the axe tests (tests/a11y) need \`npm ci --prefix tests/a11y\`" >&2
  fi
}
trap install_axe EXIT
packages=(libzbar0 fonts-arphic-ukai dovecot-imapd chromium nginx-light postgresql-client)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: missing ${missing[*]} (install them with apt-get as root)" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
