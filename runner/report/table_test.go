package report

import (
	"slices"
	"testing"
)

// Kernels by version, number by number, whatever their flavour's digits.
func TestSortReleases(t *testing.T) {
	want := []string{
		"5.10.0-46-amd64", "6.1.0-0.deb11.52-amd64", "6.1.0-47-amd64", "6.1.0-57-amd64", "6.1.0-112-amd64",
		"6.12.9-amd64", "6.12.115+deb13-amd64", "6.12.115+deb13.1-amd64", "6.12.118+deb12-amd64", "6.12.118+deb13-amd64",
		"7.2.6+deb13-amd64", "7.3.4+deb13-amd64",
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	sortReleases(got)
	if !slices.Equal(got, want) {
		t.Errorf("sorted:\n%v\nwant\n%v", got, want)
	}
}
