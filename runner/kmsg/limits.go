package kmsg

// Limits on golden files (docs/limits.md). A line over MaxGoldenLine is
// refused with its file and line; a file over MaxGoldenFile is refused
// whole, before it is read (the caller's reader) or parsed.
const (
	// MaxGoldenLine is the longest golden line: room for any line a step
	// keeps (target.MaxOutput, 1 MiB) with every escape -update may add,
	// and for a kernel record (at most 1 KiB of text, 4 KiB escaped).
	MaxGoldenLine = 2 << 20
	// MaxGoldenFile is the largest golden file.
	MaxGoldenFile = 64 << 20
)
