package kmsg

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultFilters(t *testing.T) {
	tests := []struct {
		rec  Record
		want string // the filter that drops rec, or ""
	}{
		{Record{Text: "hello: loading out-of-tree module taints kernel."}, "taint"},
		{Record{Text: "hello: module verification failed: signature and/or required key missing - tainting kernel"}, "taint"},
		{Record{Text: "hello: module license 'Proprietary' taints kernel."}, "taint"},
		{Record{Text: "hello: loading out-of-tree module taints kernel. really"}, ""},
		{Record{Text: "my module: loading out-of-tree module taints kernel."}, ""},
		{Record{Facility: 1, Text: "kmodcheck: step 3 begins"}, "kmodcheck"},
		{Record{Facility: 0, Text: "kmodcheck: forged by the kernel"}, ""},
		{Record{Facility: 1, Text: "systemd[1]: started"}, "userspace"},
		{Record{Facility: 3, Text: "kmodcheck: daemon facility"}, "userspace"},
		{Record{Text: "clocksource: timekeeping watchdog on CPU0"}, "clocksource"},
		{Record{Text: "TSC found unstable. Marking clocksource 'tsc' as unstable"}, "clocksource"},
		{Record{Text: "tsc: Refined TSC clocksource calibration"}, "clocksource"},
		{Record{Text: "psi: inconsistent task state! task=157:grep cpu=1 psi_flags=0 clear=1 set=4"}, "psi"},
		{Record{Text: "mymod: psi: inconsistent task state!"}, ""},
		{Record{Text: "Inside kthread_init function"}, ""},
	}
	filters := DefaultFilters()
	for _, test := range tests {
		got := ""
		for _, f := range filters {
			if f.Match(test.rec) {
				got = f.Name
				break
			}
		}
		if got != test.want {
			t.Errorf("%+v dropped by %q, want %q", test.rec, got, test.want)
		}
	}
	for _, f := range filters {
		if f.Doc == "" {
			t.Errorf("filter %s has no doc", f.Name)
		}
	}
}

func TestApply(t *testing.T) {
	recs := []Record{
		{Seq: 1, Text: "hello: loading out-of-tree module taints kernel."},
		{Seq: 2, Text: "Hello, world"},
		{Seq: 3, Facility: 1, Text: "kmodcheck: step 1"},
		{Seq: 4, Text: "hello: module verification failed: signature and/or required key missing - tainting kernel"},
		{Seq: 5, Text: "Goodbye"},
	}
	filters := append(DefaultFilters(), NewFilter("goodbye", "drops Goodbye", func(r Record) bool { return r.Text == "Goodbye" }))
	kept, dropped := Apply(filters, recs)
	if diff := cmp.Diff([]Record{recs[1]}, kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	wantDropped := map[string][]Record{
		"taint":     {recs[0], recs[3]},
		"kmodcheck": {recs[2]},
		"goodbye":   {recs[4]},
	}
	if diff := cmp.Diff(wantDropped, dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if got, want := Summarize(dropped), "goodbye (1 line), kmodcheck (1 line), taint (2 lines)"; got != want {
		t.Errorf("Summarize = %q, want %q", got, want)
	}
	if got := Summarize(nil); got != "" {
		t.Errorf("Summarize(nil) = %q, want \"\"", got)
	}
}
