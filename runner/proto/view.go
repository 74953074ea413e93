package proto

// RoleView is the role in which the kmodcheck binary, on the host, makes
// the guest's view of the host's root in a mount namespace of its own and
// then runs QEMU there in its place (runner/qemu/view.go makes the View,
// runner/guest/view.go carries it out). EnvView names the View's file,
// JSON.
const (
	RoleView = "view"
	EnvView  = "KMODCHECK_VIEW"
)

// A View is what RoleView does: its mounts, in order, in a new mount
// namespace whose mounts are all private (none reaches the host's), then
// Argv run in its place.
type View struct {
	Mounts []Mount
	Argv   []string
}

// A Mount is one mount(2): a file system of Type (tmpfs) from Source with
// Data, or with Bind, Source bound at Target (with what is mounted below
// it too when Recursive). One that Hides is left out when Target is no
// longer there: what it would hide went since it was found.
type Mount struct {
	Source, Target, Type, Data string
	Bind, Recursive, Hides     bool
}
