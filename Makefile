# The two commands a user needs: `make run` runs the cases, `make test` runs
# the tests. Both install what is missing first (Debian or Ubuntu, as root or
# with sudo): QEMU, a kernel image with its headers, a static busybox.

GO ?= go
KMODCHECK_FLAGS ?=
TESTFLAGS ?=

# command-or-file=package pairs: what kmodcheck needs on the host.
NEEDS = qemu-system-x86_64=qemu-system-x86 busybox=busybox-static \
	/bin/busybox=busybox-static lsmod=kmod ps=procps dmesg=util-linux \
	xz=xz-utils zstd=zstd make=make gcc=gcc pahole=dwarves sudo=sudo

.PHONY: setup run test bench build clean

setup:
	@missing=""; \
	for pair in $(NEEDS); do \
		what=$${pair%%=*}; pkg=$${pair#*=}; \
		case $$what in \
		/*) [ -e $$what ] || missing="$$missing $$pkg";; \
		*) command -v $$what >/dev/null 2>&1 || PATH=$$PATH:/sbin:/usr/sbin command -v $$what >/dev/null 2>&1 || missing="$$missing $$pkg";; \
		esac; \
	done; \
	ls /boot/vmlinuz-* >/dev/null 2>&1 || missing="$$missing linux-image-amd64"; \
	ls -d /lib/modules/*/build/Makefile >/dev/null 2>&1 || missing="$$missing linux-headers-amd64"; \
	missing=$$(printf '%s\n' $$missing | sort -u | xargs); \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "setup: installing$$missing"; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

build:
	$(GO) build -o kmodcheck .

run: setup build
	./kmodcheck run $(KMODCHECK_FLAGS) cases/

# The cases run on the system's kernel and on SECOND_KERNEL, fetched into
# the cache (about 120 MB, once); if it cannot be fetched, on the system's alone.
SECOND_KERNEL ?= 6.12

test: setup build
	@kernels=system; \
	if [ -n "$(SECOND_KERNEL)" ]; then \
		if ./kmodcheck kernels fetch $(SECOND_KERNEL); then kernels="system $(SECOND_KERNEL)"; \
		else echo "make test: kernel $(SECOND_KERNEL) could not be fetched; testing the system kernel only"; fi; \
	fi; \
	echo "make test: kernels: $$kernels"; \
	KMODCHECK_KERNELS="$$kernels" $(GO) test -timeout 60m $(TESTFLAGS) ./...
	$(MAKE) fuzz-short

# Benchmarks: snapshot and cold boots side by side in one run (boot, the
# seed suite, the kernel matrix, a step's round trip, memory; the table is
# in bench-results.txt), and the kernel-log comparison. BenchmarkSeed, the
# split per case and the naive way, runs by name.
bench: setup
	$(GO) test -run '^$$' -bench 'Match100k' -benchmem ./runner/kmsg
	$(GO) test -run '^$$' -bench 'BootModes' -benchtime 1x -timeout 60m .

clean:
	rm -f kmodcheck

# Every fuzz target in the tree (func FuzzXxx in a _test.go file), each for
# FUZZTIME executions on top of its corpus in PKG/testdata/fuzz: a parser that
# has lost its robustness fails here. A count, not a duration: Go 1.26 can
# fail a duration-bounded run with "context deadline exceeded" when it ends
# (golang/go#75804). FUZZTIME_FuzzXxx sets one target's: FuzzRawLine runs
# testscript for each input, tens of times slower than the others. What each
# target checks, and what this costs, is in docs/limits.md.
FUZZTIME ?= 10000x
FUZZTIME_FuzzRawLine ?= 1000x
export FUZZTIME_FuzzRawLine
FUZZFLAGS ?= -parallel 1 -fuzzminimizetime 10x

.PHONY: fuzz-short
fuzz-short:
	@grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sort | \
	while IFS=: read -r file decl; do \
		dir=$$(dirname "$$file"); name=$${decl#func }; \
		n=$$(printenv "FUZZTIME_$$name" || echo $(FUZZTIME)); \
		echo "fuzz-short: $$dir $$name ($$n)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$n $(FUZZFLAGS) "$$dir" || exit 1; \
	done
