#!/usr/bin/env bash
# Validates .goreleaser.yaml and makes a snapshot release of everything it
# describes (archives, checksums, deb and rpm packages) without publishing or
# signing, then lists dist/ and checks what the archives and packages hold:
# the packages also the systemd unit of apikey serve, its settings file as a
# conffile, and their maintainer scripts (docs/service.md), and the unit is
# checked with systemd-analyze verify where systemd is installed.
#
# goreleaser is installed with `go install` when missing. Its newest
# releases need a newer Go than this project's; GORELEASER_VERSION pins one
# that builds with it.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${GORELEASER_VERSION:-v2.15.1}
gobin=$(go env GOPATH)/bin
export PATH="$gobin:$PATH"
if ! command -v goreleaser >/dev/null; then
	echo "installing goreleaser $version (this compiles it: several minutes)"
	go install "github.com/goreleaser/goreleaser/v2@$version"
fi
goreleaser --version | sed -n '/GitVersion/p'

if [ ! -f README.md ]; then
	echo "release-check: README.md is missing; the archives and packages ship it" >&2
	exit 1
fi

# goreleaser reads the commit only when the repository has a remote; a
# checkout without one (a worktree, a copy) gets a remote in the environment
# for this run alone, so the binaries are still stamped with their commit.
if [ -z "$(git remote)" ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0="$PWD"
fi

goreleaser check
goreleaser release --snapshot --clean --skip=publish,sign

echo
echo "== dist/"
ls -l dist | grep -v '^total'

fail=0
need() { # need ARCHIVE-LISTING WHAT
	if ! grep -q -- "$2" <<<"$1"; then
		echo "missing $2" >&2
		fail=1
	fi
}
for a in dist/*.tar.gz dist/*.zip; do
	[ -e "$a" ] || continue
	case $a in *.zip) list=$(unzip -Z1 "$a") ;; *) list=$(tar -tzf "$a") ;; esac
	for f in README.md LICENSE docs/man/apikey.1 docs/man/apikey-create.1 completions/apikey.bash completions/_apikey completions/apikey.fish completions/apikey.ps1; do
		need "$list" "$f"
	done
	echo "archive ok: $a ($(wc -l <<<"$list") files)"
done
for p in dist/*.deb; do
	[ -e "$p" ] || continue
	list=$(dpkg-deb -c "$p")
	for f in ./usr/bin/apikey ./usr/share/man/man1/apikey.1 ./usr/share/bash-completion/completions/apikey ./usr/share/zsh/vendor-completions/_apikey ./usr/share/fish/vendor_completions.d/apikey.fish \
		./usr/lib/systemd/system/apikey.service ./usr/share/doc/apikey/service.md; do
		need "$list" "$f"
	done
	need "$list" '^-rw------- root/root .* ./etc/apikey/serve.env$'
	need "$(dpkg-deb -I "$p" conffiles)" '^/etc/apikey/serve.env$'
	control=$(dpkg-deb -I "$p")
	for f in postinst prerm postrm; do
		need "$control" " $f "
	done
	echo "deb ok: $p"
done
for p in dist/*.rpm; do
	[ -e "$p" ] || continue
	if command -v rpm >/dev/null; then
		list=$(rpm -qpl "$p" 2>/dev/null)
		for f in /usr/bin/apikey /usr/share/man/man1/apikey.1 /usr/share/zsh/site-functions/_apikey /usr/lib/systemd/system/apikey.service; do
			need "$list" "$f"
		done
		need "$(rpm -qpc "$p" 2>/dev/null)" '^/etc/apikey/serve.env$'
		scripts=$(rpm -qp --scripts "$p" 2>/dev/null)
		for f in postinstall preuninstall postuninstall; do
			need "$scripts" "^$f scriptlet"
		done
		echo "rpm ok: $p"
	else
		echo "rpm built: $p (rpm not installed: contents not listed)"
	fi
done

# The unit as systemd reads it, from the deb: its directives, that the binary
# of ExecStart is there and that the man page of Documentation= is found. The
# deb is unpacked aside, not installed, so the unit is checked with its
# /usr/bin pointing into the unpacked tree (an --root of that tree alone
# lacks the targets every unit is ordered after).
deb=$(ls dist/*_"$(go env GOARCH)".deb 2>/dev/null | head -1)
if [ -n "$deb" ] && command -v systemd-analyze >/dev/null; then
	root=$(mktemp -d)
	dpkg-deb -x "$deb" "$root/pkg"
	sed "s|/usr/bin/apikey|$root/pkg/usr/bin/apikey|" "$root/pkg/usr/lib/systemd/system/apikey.service" >"$root/apikey.service"
	# verify exits 0 on an unknown or misspelt directive, which it only
	# warns about: any word from it is a problem.
	# Without man (a slim image) the man page cannot be looked for.
	man=--man=yes
	command -v man >/dev/null || man=--man=no
	if out=$(MANPATH="$root/pkg/usr/share/man" systemd-analyze verify "$man" "$root/apikey.service" 2>&1) && [ -z "$out" ]; then
		echo "unit ok: systemd-analyze verify ($(systemd-analyze --version | head -1))"
	else
		echo "$out" >&2
		echo "release-check: systemd-analyze verify found problems in apikey.service" >&2
		fail=1
	fi
	rm -rf "$root"
else
	echo "unit not verified: no deb for $(go env GOARCH) or no systemd-analyze"
fi

# The binary of this machine says which version, commit and date it is.
host=$(find dist -type f -name apikey -path "*$(go env GOOS)_$(go env GOARCH)*" | head -1)
if [ -n "$host" ]; then
	echo "version: $("$host" version)"
	if ! "$host" version | grep -Eq -- '-next \([0-9a-f]{12}, [0-9]{4}-[0-9]{2}-[0-9]{2}T'; then
		echo "release-check: version, commit or date not stamped" >&2
		fail=1
	fi
fi
exit $fail
