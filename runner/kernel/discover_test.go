package kernel

import "testing"

// SystemName names the system's newest complete kernel, never a fetched
// one, and no kernel whose release merely contains the word.
func TestSelectNamed(t *testing.T) {
	ks := []*Kernel{
		{Release: "6.1.0-56-amd64", Root: "/"},
		{Release: "6.12.38+deb12-amd64", Root: "/cache/kernels/6.12.38+deb12-amd64"},
	}
	k, err := SelectNamed(ks, SystemName)
	if err != nil || k.Release != "6.1.0-56-amd64" {
		t.Errorf("SelectNamed(%q) = %v, %v; want the system's 6.1", SystemName, k, err)
	}
	if k, err := SelectNamed(ks, "6.12"); err != nil || k.Release != "6.12.38+deb12-amd64" {
		t.Errorf("SelectNamed(6.12) = %v, %v", k, err)
	}
	if namesIncomplete(ks, "6.1.0-56-amd64") {
		t.Errorf("a complete kernel named incomplete")
	}
}
