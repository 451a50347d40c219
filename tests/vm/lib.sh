# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared settings for the real-kernel tier. Sourced by the tests/vm scripts, never run.
#
# Layout of the cache (outside the repo, survives `make clean`):
#   $VM_CACHE/apt/                 private apt state, lists and sources (the system's stays untouched)
#   $VM_CACHE/chroot-trixie/       debootstrap minbase chroot with trixie's gcc (shared by versions)
#   $VM_CACHE/<version>/debs/      the downloaded kernel packages
#   $VM_CACHE/<version>/vmlinuz    trixie's stock kernel
#   $VM_CACHE/<version>/modules/{rebuilt,stock}/  decompressed .ko files for the guest
# <version> is the Debian package version of linux-image-<KV> (point releases replace it).

set -o pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
B=${B:-build}
case $B in /*) BDIR=$B ;; *) BDIR=$REPO/$B ;; esac
VM_CACHE=${IOASID_VM_CACHE:-/var/cache/ioasid-vm}
VM_SUITE=trixie
VM_MIRROR=${IOASID_VM_MIRROR:-http://deb.debian.org/debian}
VM_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

vm_log() { printf 'vm: %s\n' "$*" >&2; }
vm_die() { printf 'vm: FATAL: %s\n' "$*" >&2; exit 1; }

# Private apt: every state, cache and source path points into $VM_CACHE/apt.
vm_apt_opts() {
	local a=$VM_CACHE/apt
	printf '%s\n' \
		-o "Dir::State=$a/state" -o "Dir::State::status=$a/state/status" \
		-o "Dir::Cache=$a/cache" \
		-o "Dir::Etc::SourceList=$a/sources.list" -o "Dir::Etc::SourceParts=$a/sources.list.d" \
		-o "Dir::Etc::Preferences=$a/preferences" -o "Dir::Etc::PreferencesParts=$a/preferences.d" \
		-o "APT::Architecture=amd64" -o "APT::Architectures::=amd64" \
		-o "Acquire::Languages=none" -o "Debug::NoLocking=1" \
		-o "APT::Get::AllowUnauthenticated=false"
}

vm_apt() {
	local opts
	mapfile -t opts < <(vm_apt_opts)
	"$@" "${opts[@]}"
}

# Unmount whatever is still mounted below a chroot (debootstrap mounts /proc and /sys in the
# target and may leave them behind when it fails or is interrupted).
vm_umount_below() {
	local m
	for m in $(awk -v r="$1/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

# vm_mod_add NAME: appends NAME to the bash array `order` after its dependencies (modinfo),
# each module a decompressed .ko in $mod_out, taken from the linux-image tree $moddir unless
# $mod_out already has it (a module rebuilt there). For the module sets the tier caches.
vm_mod_add() {
	local f d
	case " ${order[*]} " in *" $1 "*) return 0 ;; esac
	if [ ! -e "$mod_out/$1.ko" ]; then
		f=$(find "$moddir" -name "$1.ko*" | head -n1)
		[ -n "$f" ] || vm_die "module $1 not found in $moddir"
		case $f in
		*.xz) xz -dc "$f" >"$mod_out/$1.ko" ;;
		*.zst) zstd -qdc "$f" >"$mod_out/$1.ko" ;;
		*) cp "$f" "$mod_out/$1.ko" ;;
		esac
	fi
	for d in $(modinfo -F depends "$mod_out/$1.ko" | tr ',' ' '); do vm_mod_add "$d"; done
	order+=("$1")
}
