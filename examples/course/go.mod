module example.com/course

go 1.26.8

require github.com/kmodcheck/kmodcheck v0.0.0

require (
	github.com/cavaliergopher/cpio v1.0.1 // indirect
	github.com/creack/pty v1.1.24 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)

// The example lives in kmodcheck's repository and tests what it holds; a
// course's own go.mod requires a released version instead.
replace github.com/kmodcheck/kmodcheck => ../..
