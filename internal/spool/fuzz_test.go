package spool

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover opens a spool whose only segment holds arbitrary bytes:
// recovery and reading back must neither panic nor return records that no
// whole frame carried.
func FuzzRecover(f *testing.F) {
	one, _ := encodeBatch(nil, 1, []Record{rec("a"), {Topic: "t", Partition: 2, Key: []byte{}, Headers: []Header{{Key: "h"}}}})
	putSeq(one, 1)
	done := encodeDone(nil, []doneMark{{1, 0}})
	f.Add(one)
	f.Add(append(append([]byte{}, one...), done...))
	f.Add(one[:len(one)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000001"+segExt), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			return
		}
		defer s.Close()
		items, _ := s.Next(1000, 1<<20)
		if int64(len(items)) > s.Len() {
			t.Fatalf("%d records read, %d held", len(items), s.Len())
		}
		if _, err := s.Append([]Record{rec("after")}, false); err != nil {
			t.Fatalf("append after recovering arbitrary bytes: %v", err)
		}
	})
}
