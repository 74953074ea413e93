// Package shard splits a run's case × kernel pairs into parts that CI jobs
// run apart: a pair's part depends only on its own names, so the parts of
// a run cover every pair once, and the reports of merged parts can check
// it.
package shard

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// A Shard is one of Count parts of the case × kernel pairs, numbered from
// 1. A pair's shard depends only on its case's name and its kernel's
// release, never on what else is selected, so Count CI jobs running shards
// 1..Count together run every pair exactly once, and adding a case moves no
// other pair. The zero Shard is the whole.
type Shard struct{ Index, Count int }

// Parse reads I/N, with 1 <= I <= N.
func Parse(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q: want I/N, e.g. 1/2", s)
	}
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || count < 1 || index < 1 || index > count {
		return Shard{}, fmt.Errorf("%q: want I/N with 1 <= I <= N, e.g. 1/2", s)
	}
	return Shard{Index: index, Count: count}, nil
}

func (s Shard) String() string {
	if s.Count == 0 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Has reports whether the pair case@kernel is in the shard: the FNV-1a hash
// of "case@kernel", modulo Count, is Index-1.
func (s Shard) Has(caseName, kernel string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(caseName + "@" + kernel))
	return int(h.Sum64()%uint64(s.Count)) == s.Index-1
}
