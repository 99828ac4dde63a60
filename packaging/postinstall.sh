#!/bin/sh
# After the files are in place. deb: postinst configure [OLD-VERSION] (or
# abort-*); rpm: %post 1 on an install, 2 on an upgrade.
set -e

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac

# The server's own account, without a login, its home the state directory.
# useradd is in every Debian and Red Hat system (passwd, shadow-utils);
# adduser is not always installed.
if ! getent group apikey >/dev/null; then
	groupadd --system apikey
fi
if ! getent passwd apikey >/dev/null; then
	useradd --system --gid apikey --home-dir /var/lib/apikey --no-create-home \
		--shell /usr/sbin/nologin --comment "apikey serve" apikey
fi
# systemd makes it too when the service starts (StateDirectory=), but the
# first store is created by hand before that.
if [ ! -d /var/lib/apikey ]; then
	install -d -o apikey -g apikey -m 0700 /var/lib/apikey
fi

upgrade=
case "$1" in
configure) [ -z "$2" ] || upgrade=yes ;;
2) upgrade=yes ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# The service is never enabled or started here: without a store it
	# could only fail. A running one takes up the new binary.
	if [ -n "$upgrade" ]; then
		systemctl try-restart apikey.service >/dev/null 2>&1 || true
	fi
fi
if [ -z "$upgrade" ]; then
	echo "apikey: to run apikey serve as a service, see /usr/share/doc/apikey/service.md"
fi
exit 0
