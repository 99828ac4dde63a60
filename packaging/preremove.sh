#!/bin/sh
# Before the files are removed. deb: prerm remove (or upgrade NEW-VERSION,
# deconfigure, failed-upgrade); rpm: %preun 0 on a removal, 1 on an upgrade.
# Only a removal stops the service: an upgrade leaves it running, and the new
# package's postinstall restarts it on the new binary.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl stop apikey.service >/dev/null 2>&1 || true
fi
# Works without a running systemd too (a chroot, a container).
systemctl --no-reload disable apikey.service >/dev/null 2>&1 || true
exit 0
