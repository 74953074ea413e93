# The two commands a user needs: `make run` runs the cases, `make test` runs
# the tests. Both install what is missing first (Debian or Ubuntu, as root or
# with sudo): QEMU, a kernel image with its headers, a static busybox.

GO ?= go
KMODCHECK_FLAGS ?=
TESTFLAGS ?=

# kmodcheck runs its own binary as the guest's agent, inside the release
# root of each kernel (another C library than the host's): it must be static.
export CGO_ENABLED = 0

.PHONY: setup run test bench build clean

setup:
	@sh scripts/setup.sh

build:
	$(GO) build -o kmodcheck .

run: setup build
	./kmodcheck run $(KMODCHECK_FLAGS) cases/

# The cases run on the system's kernel (where the host has one) and on
# TEST_KERNELS, fetched into the cache once (about 120 MB each) with a
# root of their own release each: 6.12 from bookworm-backports, and the
# newest trixie-backports kernel (7.3), built for in a trixie root. Then the
# example course (examples/course: a course's repository with its own go
# test) runs on the first of them.
TEST_KERNELS ?= 6.12 7.3

test: setup build
	@kernels="$(TEST_KERNELS)"; \
	if ls /boot/vmlinuz-* >/dev/null 2>&1; then kernels="system $$kernels"; fi; \
	./kmodcheck kernels fetch $(TEST_KERNELS) || exit 1; \
	echo "make test: kernels: $$kernels"; \
	KMODCHECK_KERNELS="$$kernels" $(GO) test -timeout 80m $(TESTFLAGS) ./... && \
	cd examples/course && KMODCHECK_KERNELS="$${kernels%% *}" $(GO) test -timeout 20m $(TESTFLAGS) ./...
	$(MAKE) fuzz-short

# Benchmarks: snapshot and cold boots side by side in one run (boot, the
# seed suite, the kernel matrix, a step's round trip, memory; the table is
# in bench-results.txt), the kernel-log comparison, the leak scan's parse,
# what putting a build step's machine together costs, and what a user sees:
# kmodcheck run cases/ with its defaults, with each case's boot and each
# kind of step (bench-user.txt). BenchmarkSeed, the split per case and the
# naive way, runs by name.
bench: setup
	$(GO) test -run '^$$' -bench 'Match100k' -benchmem ./runner/golden
	$(GO) test -run '^$$' -bench 'ParseAllocTraces' -benchmem ./runner/guest
	$(GO) test -run '^$$' -bench 'AttributeBacklog|KmsgFlood' -benchmem ./runner/local
	$(GO) test -run '^$$' -bench 'BuildMachine' -benchtime 20x ./runner/qemu
	$(GO) test -run '^$$' -bench 'BootModes' -benchtime 1x -timeout 60m .
	$(GO) test -run '^$$' -bench 'UserSuite' -benchtime 1x -timeout 20m .

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
