#!/bin/sh
# After the files are removed. deb: postrm remove, purge (or upgrade, abort-*,
# ...); rpm: %postun 0 on a removal, 1 on an upgrade.
# The apikey user and /var/lib/apikey, which holds the store, are kept, also
# on purge: deleting an audit trail is the operator's decision.
set -e

case "$1" in
remove | purge | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
