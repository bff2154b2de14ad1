#!/usr/bin/env bash
# Builds the Debian packages with dpkg-deb, from a built checkout
# (`npm run build:debs` builds everything first):
#   vigil-agent_<version>_<arch>.deb  the agent executable (dist/vigil-agent, no
#       Node.js needed), its unit, /etc/vigil/agent.yaml, the driver source for DKMS
#   vigil_<version>_<arch>.deb  server, hub and CLI: the built JavaScript with its
#       production npm dependencies and a private Node.js 24 in /usr/lib/vigil
#       (Debian's nodejs is older than the 22.5 Vigil needs), the units,
#       /etc/vigil/{server,hub}.yaml, the default rules
# Usage: deploy/packaging/build-debs.sh [output dir, default dist/packages]
# Compression: zstd (seconds, dpkg >= 1.21.18: Debian 12, Ubuntu 22.04); set
# DEB_COMPRESSION=xz for older dpkg (a minute per package).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PACKAGING="$ROOT/deploy/packaging"
OUT=$(mkdir -p "${1:-$ROOT/dist/packages}" && cd "${1:-$ROOT/dist/packages}" && pwd)
VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json" | head -n 1)
ARCH=$(dpkg --print-architecture)
COMPRESSION=${DEB_COMPRESSION:-zstd}
NODE_BIN="$ROOT/node_modules/node/bin/node"
# The agent executable (npm run build:agent-exe); tests pass one they built.
AGENT_EXE=${AGENT_EXE:-$ROOT/dist/vigil-agent}

die() {
	echo "build-debs: $*" >&2
	exit 1
}

[ -n "$VERSION" ] || die "no version in package.json"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: apt-get install dpkg"
[ -x "$AGENT_EXE" ] || die "$AGENT_EXE is missing: npm run build:agent-exe"
[ -f "$ROOT/cli/dist/main.js" ] || die "cli/dist is missing: npm run build"
[ -x "$NODE_BIN" ] || die "$NODE_BIN is missing: npm install"
grep -q "MODULE_VERSION(\"$VERSION\")" "$ROOT/driver/main.c" ||
	die "driver/main.c MODULE_VERSION differs from package.json version $VERSION"

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/vigil-debs-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

# A unit from deploy/systemd with the package's ExecStart and without the
# checkout install steps of its header; the hardening stays single-sourced.
packaged_unit() { # package unit-file exec-start
	local dest="$STAGE/$1/usr/lib/systemd/system/$2"
	install -d -m 0755 "$(dirname "$dest")"
	sed -e '/^# Install:/,/systemctl enable --now/d' \
		-e "s|^ExecStart=.*|ExecStart=$3|" \
		-e "s|^Documentation=.*|Documentation=file:///usr/share/doc/$1/README.Deploy.md|" \
		"$ROOT/deploy/systemd/$2" >"$dest"
	chmod 0644 "$dest"
}

# Maintainer scripts, control file and documentation common to both packages.
debian_files() { # package-name package-root
	local name=$1 dir=$2 script
	install -d -m 0755 "$dir/DEBIAN" "$dir/usr/share/doc/$name"
	for script in postinst prerm postrm; do
		sed "s/#VERSION#/$VERSION/g" "$PACKAGING/debian/$name/$script" >"$dir/DEBIAN/$script"
		chmod 0755 "$dir/DEBIAN/$script"
	done
	install -m 0644 "$PACKAGING/debian/copyright" "$dir/usr/share/doc/$name/copyright"
	install -D -m 0644 "$PACKAGING/debian/$name/lintian-overrides" "$dir/usr/share/lintian/overrides/$name"
	install -m 0644 "$ROOT/deploy/README.md" "$dir/usr/share/doc/$name/README.Deploy.md"
	printf '%s (%s) unstable; urgency=medium\n\n  * Built from the Vigil repository.\n\n -- Vigil maintainers <packaging@vigil.example.org>  %s\n' \
		"$name" "$VERSION" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}")" |
		gzip -9n >"$dir/usr/share/doc/$name/changelog.gz"
	chmod 0644 "$dir/usr/share/doc/$name/changelog.gz"
	(cd "$dir" && find etc -type f -printf '/%p\n' 2>/dev/null | sort >DEBIAN/conffiles)
	[ -s "$dir/DEBIAN/conffiles" ] || rm -f "$dir/DEBIAN/conffiles"
	(cd "$dir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
		xargs -0 md5sum >DEBIAN/md5sums)
	chmod 0644 "$dir/DEBIAN/md5sums"
	sed -e "s/#VERSION#/$VERSION/g" -e "s/#ARCH#/$ARCH/g" \
		-e "s/#SIZE#/$(du -sk --exclude=DEBIAN "$dir" | cut -f1)/" \
		"$PACKAGING/debian/$name/control" >"$dir/DEBIAN/control"
	chmod 0644 "$dir/DEBIAN/control"
	dpkg-deb --root-owner-group -Z"$COMPRESSION" --build "$dir" "$OUT/${name}_${VERSION}_${ARCH}.deb" >/dev/null
	echo "build-debs: $OUT/${name}_${VERSION}_${ARCH}.deb"
}

# --- vigil-agent
AGENT="$STAGE/vigil-agent"
install -D -m 0755 "$AGENT_EXE" "$AGENT/usr/sbin/vigil-agent"
packaged_unit vigil-agent vigil-agent.service "/usr/sbin/vigil-agent --config /etc/vigil/agent.yaml"
# Root's alone: it names the servers the agent trusts (the agent checks this).
install -D -m 0600 "$ROOT/deploy/config/agent.yaml" "$AGENT/etc/vigil/agent.yaml"
SRC="$AGENT/usr/src/vigil-$VERSION"
install -d -m 0755 "$SRC/include/uapi"
(cd "$ROOT/driver" && install -m 0644 Kbuild Makefile events.def $(ls ./*.c ./*.h | grep -v "\.mod\.c$") "$SRC/")
install -m 0644 "$ROOT/driver/include/uapi/"*.h "$SRC/include/uapi/"
sed "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$VERSION\"/" "$ROOT/driver/dkms.conf" >"$SRC/dkms.conf"
chmod 0644 "$SRC/dkms.conf"
debian_files vigil-agent "$AGENT"

# --- vigil (server, hub, CLI)
MAIN="$STAGE/vigil"
LIB="$MAIN/usr/lib/vigil"
install -d -m 0755 "$LIB/node_modules/@vigil" "$MAIN/usr/bin" "$MAIN/usr/share/vigil"
install -m 0755 "$NODE_BIN" "$LIB/node"
# The workspaces: package.json and compiled JavaScript (no sources, maps or types).
for ws in proto common agent server hub cli; do
	install -d -m 0755 "$LIB/$ws"
	install -m 0644 "$ROOT/$ws/package.json" "$LIB/$ws/"
	(cd "$ROOT/$ws" && find dist -name '*.js' ! -name '*.test.js' -printf '%P\0' |
		xargs -0 -I{} install -D -m 0644 "dist/{}" "$LIB/$ws/dist/{}")
	ln -s "../../$ws" "$LIB/node_modules/@vigil/$ws"
done
# Production dependencies exactly as npm resolved them in the checkout (npm ls
# exits 1 over a peer-dependency remark, so its list is what counts).
DEPS=$(cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null || true)
echo "$DEPS" | grep -q "^$ROOT/node_modules/" || die "npm ls --omit=dev listed no dependencies: npm install first"
echo "$DEPS" | sed -n "s|^$ROOT/node_modules/||p" | grep -v '^@vigil/' | sort -u |
	while read -r dep; do
		install -d -m 0755 "$LIB/node_modules/$(dirname "$dep")"
		[ -e "$LIB/node_modules/$dep" ] || cp -a "$ROOT/node_modules/$dep" "$LIB/node_modules/$dep"
	done
# Nothing loads TypeScript sources, type declarations or source maps at run time:
# half the files and bytes of node_modules.
# Nor their VCS and lint dotfiles.
find "$LIB/node_modules" -type f \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' \
	-o -name '.git*' -o -name '.npmignore' -o -name '.eslintrc*' \) -delete
chmod -R u+rwX,go+rX,go-w "$LIB/node_modules"
# The hub's default rulesDir is <install>/rules: the rules live in /usr/share.
cp -a "$ROOT/rules" "$MAIN/usr/share/vigil/rules"
chmod -R u+rwX,go+rX,go-w "$MAIN/usr/share/vigil/rules"
ln -s ../../share/vigil/rules "$LIB/rules"
cat >"$MAIN/usr/bin/vigil" <<'EOF'
#!/bin/sh
# vigil: the Vigil CLI on the Node.js runtime the package ships.
exec /usr/lib/vigil/node /usr/lib/vigil/cli/dist/main.js "$@"
EOF
chmod 0755 "$MAIN/usr/bin/vigil"
packaged_unit vigil vigil-server.service \
	"/usr/lib/vigil/node /usr/lib/vigil/cli/dist/main.js server --config /etc/vigil/server.yaml"
packaged_unit vigil vigil-hub.service \
	"/usr/lib/vigil/node /usr/lib/vigil/cli/dist/main.js hub --config /etc/vigil/hub.yaml"
install -D -m 0640 "$ROOT/deploy/config/server.yaml" "$MAIN/etc/vigil/server.yaml"
sed 's|^rulesDir: .*|rulesDir: /usr/share/vigil/rules|' "$ROOT/deploy/config/hub.yaml" >"$MAIN/etc/vigil/hub.yaml"
chmod 0640 "$MAIN/etc/vigil/hub.yaml"
debian_files vigil "$MAIN"
