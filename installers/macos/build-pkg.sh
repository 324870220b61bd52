#!/bin/sh
# Builds a macOS installer package (pkgbuild) from the core bundle:
#   installers/macos/build-pkg.sh dist/nodekeeper-0.2.0-darwin-arm64.tar.gz
# The bundle goes to /usr/local/lib/nodekeeper with /usr/local/bin/nodekeeper
# pointing at it; the postinstall script registers the LaunchDaemon through
# `nodekeeper service install` when the instance config exists.
# Written and reviewed, not run: nodekeeper's tests run on Linux only.
# Sign with `productsign` and notarize before shipping.
set -eu
tarball=$1
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$tarball" .tar.gz)              # nodekeeper-<version>-darwin-<arch>
version=$(echo "$name" | cut -d- -f2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/root/usr/local/lib" "$work/root/usr/local/bin" "$work/scripts"
tar -C "$work/root/usr/local/lib" -xzf "$tarball"
mv "$work/root/usr/local/lib/$name" "$work/root/usr/local/lib/nodekeeper"
ln -s ../lib/nodekeeper/nodekeeper "$work/root/usr/local/bin/nodekeeper"
cp "$here/postinstall" "$work/scripts/postinstall"
chmod 0755 "$work/scripts/postinstall"

mkdir -p dist
pkgbuild \
  --root "$work/root" \
  --scripts "$work/scripts" \
  --identifier org.nodekeeper.core \
  --version "$version" \
  --install-location / \
  "dist/$name.pkg"
echo "wrote dist/$name.pkg"
