#!/usr/bin/env bash
# `scripts/image-root.sh BINARY DIR [TARBALL]`: lays the tool image's root
# filesystem in DIR (the Dockerfile's last stage copies it whole), and with
# TARBALL also packs it there, reproducibly (sorted names, numeric owners,
# every time SOURCE_DATE_EPOCH, default the commit's time):
#   /usr/local/bin/publish-artifact   the static binary          0:0 0755
#   /etc/ssl/certs/ca-certificates.crt  this machine's CA bundle 0:0 0644
#   /etc/passwd, /etc/group           root and publisher (10001) 0:0 0644
#   /home/publisher                   its home, writable    10001:10001 0755
#   /tmp                              writable by all, sticky     0:0 1777
# It runs as root (owners are set, as the image will have them).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BINARY DIR [TARBALL]" >&2; exit 2; }
binary=$1 root=$2 tarball=${3:-}
cd "$(dirname "$0")/.."
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$CA_BUNDLE" ] || { echo "image-root: no CA bundle at $CA_BUNDLE" >&2; exit 1; }

rm -rf "$root"
install -d -m 0755 "$root"/{etc/ssl/certs,usr/local/bin,home}
install -m 0755 "$binary" "$root/usr/local/bin/publish-artifact"
install -m 0644 "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
publisher:x:10001:10001:publish-artifact:/home/publisher:/sbin/nologin
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
publisher:x:10001:
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"
install -d -m 0755 -o 10001 -g 10001 "$root/home/publisher"
install -d -m 1777 "$root/tmp"

if [ -n "$tarball" ]; then
    epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
    mkdir -p "$(dirname "$tarball")"
    tar --create --file "$tarball" --directory "$root" --sort=name --format=posix \
        --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        --mtime="@$epoch" --numeric-owner --no-acls --no-xattrs --no-selinux \
        .
fi
