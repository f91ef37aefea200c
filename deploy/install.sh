#!/usr/bin/env bash
# Builds switchboard in release mode and installs the binary, the systemd unit and its
# environment file, and the shell completions (bash, zsh, fish). Honours PREFIX (default
# /usr/local) and DESTDIR (for packagers).
#   deploy/install.sh              build and install
#   deploy/install.sh --uninstall  remove what install put there (keeps the env file and the data)
#   deploy/install.sh --no-build   install an already built binary: $BINARY or .build/release/switchboard
#   deploy/install.sh --build-only build what install installs, and nothing else
# The binary carries the Swift runtime (--static-swift-stdlib): it runs without the toolchain,
# which may be removed, upgraded or hidden from the unit (ProtectHome=). Under sudo the build
# runs as the user who called sudo, so the build folder holds no root-owned files.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}
# Where each shell looks for the completions of packaged commands.
BASH_COMPLETIONDIR=${BASH_COMPLETIONDIR:-/usr/share/bash-completion/completions}
ZSH_COMPLETIONDIR=${ZSH_COMPLETIONDIR:-/usr/share/zsh/vendor-completions}
FISH_COMPLETIONDIR=${FISH_COMPLETIONDIR:-/usr/share/fish/vendor_completions.d}
build=1
action=install
for arg in "$@"; do
    case "$arg" in
        --uninstall) action=uninstall ;;
        --no-build) build=0 ;;
        --build-only) action=build ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

bin="$DESTDIR$PREFIX/bin/switchboard"
unit="$DESTDIR$UNITDIR/switchboard.service"
socket_unit="$DESTDIR$UNITDIR/switchboard.socket"
env="$DESTDIR$SYSCONFDIR/switchboard/switchboard.env"
doc="$DESTDIR$PREFIX/share/doc/switchboard"
completions=("$DESTDIR$BASH_COMPLETIONDIR/switchboard" "$DESTDIR$ZSH_COMPLETIONDIR/_switchboard" "$DESTDIR$FISH_COMPLETIONDIR/switchboard.fish")

if [ "$action" = uninstall ]; then
    # Stopped and disabled while systemd still knows the units; once they are removed it cannot.
    live_systemd=0
    if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then live_systemd=1; fi
    if [ "$live_systemd" = 1 ]; then
        echo "stopping and disabling switchboard.socket and switchboard.service"
        systemctl disable --now switchboard.socket switchboard.service 2>/dev/null || true
    elif [ -f "$unit" ]; then
        echo "first, where the units run: systemctl disable --now switchboard.socket switchboard.service"
    fi
    rm -f "$bin" "$unit" "$socket_unit" "$doc/README.md" "$doc/switchboard.env.example" "${completions[@]}"
    rmdir "$doc" 2>/dev/null || true
    if [ "$live_systemd" = 1 ]; then systemctl daemon-reload || true; fi
    echo "removed switchboard; kept $env and the history in /var/lib/switchboard"
    exit 0
fi

# The one build command; Tests/EndToEndTests/StaticBinaryTests.swift checks what it makes.
build_command=(swift build -c release --product switchboard --static-swift-stdlib)
if [ "$build" = 1 ] || [ "$action" = build ]; then
    if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        if [ -e .build ] && [ -n "$(find .build -user 0 -print -quit)" ]; then
            echo "install.sh: .build holds files root owns (a build as root); first: sudo chown -R $SUDO_USER .build" >&2
            exit 1
        fi
        # A login shell of theirs: their PATH finds their swift, which sudo's secure_path may not.
        echo "building as $SUDO_USER: ${build_command[*]}"
        sudo -u "$SUDO_USER" -H bash -lc 'cd "$1" && shift && exec "$@"' bash "$PWD" "${build_command[@]}"
    else
        "${build_command[@]}"
    fi
fi
if [ "$action" = build ]; then
    echo "built: .build/release/switchboard"
    exit 0
fi
install -D -m 0755 "${BINARY:-.build/release/switchboard}" "$bin"
# The completions come from the binary itself (ArgumentParser), so they follow its commands.
shells=(bash zsh fish)
for i in 0 1 2; do
    install -d "$(dirname "${completions[$i]}")"
    "$bin" --generate-completion-script "${shells[$i]}" > "${completions[$i]}.tmp"
    chmod 0644 "${completions[$i]}.tmp" && mv "${completions[$i]}.tmp" "${completions[$i]}"
done
# The unit names the binary by path: follow PREFIX.
install -d "$(dirname "$unit")"
sed "s|/usr/local/|$PREFIX/|g" deploy/switchboard.service > "$unit.tmp" && chmod 0644 "$unit.tmp" && mv "$unit.tmp" "$unit"
install -m 0644 deploy/switchboard.socket "$socket_unit"
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 deploy/switchboard.env "$doc/switchboard.env.example"
# An operator's edits to the env file are never overwritten.
if [ ! -e "$env" ]; then
    install -D -m 0644 deploy/switchboard.env "$env"
else
    echo "kept the existing $env (the shipped defaults are in $doc/switchboard.env.example)"
fi

echo "installed: $bin, $unit, $socket_unit, $env"
echo "completions: ${completions[*]}"
echo "next:"
echo "  systemctl daemon-reload"
echo "  systemctl enable --now switchboard"
echo "  systemctl status switchboard; journalctl -u switchboard -f"
echo "  (or, to start it on the first API request: systemctl enable --now switchboard.socket)"
