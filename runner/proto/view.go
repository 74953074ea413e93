package proto

// RoleView is the role in which the kmodcheck binary, on the host, makes
// a machine's view of a root in a mount namespace of its own and then runs
// a command there in its place: QEMU, sharing the guest's view of the
// host's root (runner/qemu/view.go), or a build step, on the case's
// machine (runner/qemu/build.go). runner/guest/view.go carries the View
// out. EnvView names the View's file, JSON.
const (
	RoleView = "view"
	EnvView  = "KMODCHECK_VIEW"
)

// A View is what RoleView does: its mounts, in order, in a new mount
// namespace whose mounts are all private (none reaches the host's), then
// Argv, followed by the process's own arguments, run in its place.
type View struct {
	// Failure says what the process cannot do when a mount or the exec
	// fails ("make the guest's view of the host's root").
	Failure string
	Mounts  []Mount
	// Root, when set, is where Argv runs chrooted: in the directory the
	// process started in if Root has it, else in Root's top; Argv[0] is
	// then a path in Root.
	Root string
	// Path, when set, is Argv's PATH.
	Path string
	// Confined runs Argv without capabilities and unable to gain any
	// (an empty bounding set, no_new_privs).
	Confined bool
	// User, when set, is who Argv runs as, confined, with no groups but
	// its own.
	User *Reader
	Argv []string
}

// A Mount is one mount(2): a file system of Type (tmpfs) from Source with
// Data, or with Bind, Source bound at Target (with what is mounted below
// it too when Recursive); or with Link, a symbolic link to Source made at
// Target. One that Hides is left out when Target is no longer there: what
// it would hide went since it was found. One that is Optional is left out
// when it fails; Else is tried when it fails.
type Mount struct {
	Source, Target, Type, Data string
	Bind, Recursive, Hides     bool
	// MakeDir makes Target, and its parents, first; MakeFile makes it an
	// empty file (what a file is bound over).
	MakeDir, MakeFile bool
	// ReadOnly mounts it read-only (a bind mount: remounted read-only),
	// NoSUID without set-user-ID programs.
	ReadOnly, NoSUID bool
	Link             bool
	Optional         bool
	Else             *Mount
}
