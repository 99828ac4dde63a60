#!/usr/bin/env bash
# Writes the shell completion scripts that release archives and packages
# ship into completions/. It runs apikey with an empty home, so that no
# config file or database of whoever builds the release is read or written,
# and checks that the home is still empty afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

out=completions
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"

go build -o "$tmp/apikey" .
run() {
	env -i PATH="$PATH" HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" \
		XDG_DATA_HOME="$tmp/home/.local/share" "$tmp/apikey" "$@"
}

rm -rf "$out"
mkdir -p "$out"
run completion bash >"$out/apikey.bash"
run completion zsh >"$out/_apikey"
run completion fish >"$out/apikey.fish"
run completion powershell >"$out/apikey.ps1"

if [ -n "$(ls -A "$tmp/home")" ]; then
	echo "completions.sh: apikey wrote into its home while printing completions:" >&2
	find "$tmp/home" >&2
	exit 1
fi
ls -l "$out"
