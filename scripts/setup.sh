#!/bin/sh
# kmodcheck's set-up (make setup): install with apt-get what kmodcheck needs
# and the host lacks, on Debian or Ubuntu, as root or through sudo. Only
# what the host's distribution has is asked for: a host without a Debian
# kernel package (Ubuntu) runs kernels fetched into kmodcheck's cache.
#
# SETUP_DRY_RUN=1 prints the apt-get line instead of running it, SETUP_ROOT
# is where the files it looks for are (default /), SETUP_PATH where the
# commands are (default $PATH and the sbin directories): the tests run this
# script against the package lists of both distributions.
set -u
root=${SETUP_ROOT:-}
lookup=${SETUP_PATH:-$PATH:/sbin:/usr/sbin}

# command-or-file=package pairs.
needs="qemu-system-x86_64=qemu-system-x86 /bin/busybox=busybox-static
lsmod=kmod ps=procps dmesg=util-linux unshare=util-linux chroot=coreutils
xz=xz-utils zstd=zstd make=make gcc=gcc pahole=dwarves sudo=sudo
mmdebstrap=mmdebstrap dpkg-deb=dpkg apt-get=apt
/usr/share/keyrings/debian-archive-keyring.gpg=debian-archive-keyring
/usr/share/i18n/locales/en_US=locales"

missing=""
for pair in $needs; do
	what=${pair%%=*} pkg=${pair#*=}
	case $what in
	/*) [ -e "$root$what" ] || missing="$missing $pkg" ;;
	*) PATH=$lookup command -v "$what" >/dev/null 2>&1 || missing="$missing $pkg" ;;
	esac
done

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
updated=""
update() {
	[ -n "$updated" ] && return 0
	updated=1
	[ -n "${SETUP_DRY_RUN:-}" ] && return 0
	$sudo apt-get update -q
}

# A system kernel with its headers where the distribution packages Debian's
# (Debian: linux-image-amd64); elsewhere kernels come from the cache.
want_kernel=""
ls "$root"/boot/vmlinuz-* >/dev/null 2>&1 || want_kernel="linux-image-amd64"
ls -d "$root"/lib/modules/*/build/Makefile >/dev/null 2>&1 || want_kernel="$want_kernel linux-headers-amd64"
if [ -n "$want_kernel" ]; then
	update
	for pkg in $want_kernel; do
		if apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1; then
			missing="$missing $pkg"
		else
			echo "setup: no $pkg in this distribution's archive: kernels come from kmodcheck's cache (kmodcheck kernels fetch)"
		fi
	done
fi

# The locale of a reader's terminal, en_US.UTF-8, in the host's root, which
# is the machine of the system's kernel (release roots make their own):
# locale-gen's archive, or a directory, as kmodcheck looks for it.
reader_locale() {
	[ -e "$root/usr/lib/locale/en_US.utf8/LC_CTYPE" ] && return 0
	[ -e "$root/usr/lib/locale/en_US.UTF-8/LC_CTYPE" ] && return 0
	grep -qa 'en_US\.utf8' "$root/usr/lib/locale/locale-archive" 2>/dev/null && return 0
	echo "setup: making the locale en_US.UTF-8 (a reader's)"
	if [ -n "${SETUP_DRY_RUN:-}" ]; then
		echo "localedef -i en_US -c -f UTF-8 en_US.UTF-8"
		return 0
	fi
	$sudo localedef -i en_US -c -f UTF-8 en_US.UTF-8
}

missing=$(printf '%s\n' $missing | sort -u | xargs)
if [ -n "$missing" ]; then
	echo "setup: installing $missing"
	update || exit 1
	if [ -n "${SETUP_DRY_RUN:-}" ]; then
		echo "apt-get install -y -q --no-install-recommends $missing"
	else
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing || exit 1
	fi
fi
reader_locale
