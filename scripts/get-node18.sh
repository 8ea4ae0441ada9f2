#!/usr/bin/env bash
# Puts the oldest Node.js that package.json's engines claims, Debian bookworm's
# nodejs 18, in build/node18/ beside the machine's own Node, for npm test's
# "JS on Node 18" suite (scripts/test.js runs test/js/ with build/node18/node
# when it exists). .ci/run calls this; run it once by hand to get the suite.
#
# Debian's nodejs package would replace the machine's nodejs (NodeSource's
# Node 20 is the same package name), so its .deb files are downloaded with
# apt-get download and unpacked here, not installed. Debian's Node loads a few
# builtins from /usr/share/nodejs (acorn, cjs-module-lexer, undici): those
# packages do not conflict with anything and are installed with apt-get.
# Needs root for that (or the packages already present) and Debian's apt.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$PWD/build/node18

if [ -x "$dest/node" ] && "$dest/node" -e 'process.exit(process.versions.node.startsWith("18.") ? 0 : 1)' 2>/dev/null; then
  echo "node18: $("$dest/node" -v) already in $dest"
  exit 0
fi
command -v apt-get >/dev/null || { echo "node18: needs Debian's apt-get" >&2; exit 1; }

need=()
for p in node-acorn node-cjs-module-lexer node-undici; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "node18: needs root to install ${need[*]}" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

version=$(apt-cache madison nodejs | awk -F'|' '$2 ~ /^ *18\./ { gsub(/ /, "", $2); print $2; exit }')
[ -n "$version" ] || { echo "node18: apt knows no nodejs 18 (apt-get update first?)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's download user writes here
(cd "$tmp" && apt-get download -qq "nodejs=$version" "libnode108=$version" >/dev/null 2>&1) ||
  (cd "$tmp" && apt-get download "nodejs=$version" "libnode108=$version")
rm -rf "$dest"
mkdir -p "$dest/root"
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dest/root"; done
lib=$(dirname "$(find "$dest/root" -name 'libnode.so.108' | head -n 1)")
cat > "$dest/node" <<EOF
#!/bin/sh
# Debian's nodejs $version, unpacked by scripts/get-node18.sh.
LD_LIBRARY_PATH="$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$dest/root/usr/bin/node" "\$@"
EOF
chmod +x "$dest/node"
echo "node18: $("$dest/node" -v) (Debian $version) in $dest"
