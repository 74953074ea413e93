package golden

// Limits on golden files (docs/limits.md). A line over MaxLine is
// refused with its file and line; a file over MaxFile is refused
// whole, before it is read (the caller's reader) or parsed.
const (
	// MaxLine is the longest golden line: room for any line a step
	// keeps (target.MaxOutput, 1 MiB) with every escape -update may add,
	// and for a kernel record (at most 1 KiB of text, 4 KiB escaped).
	MaxLine = 2 << 20
	// MaxFile is the largest golden file.
	MaxFile = 64 << 20
)
