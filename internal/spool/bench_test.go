package spool

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The spool's choice of store: 64 writers appending one-record requests
// (300-byte values), as 64 connections to a spooling route would. Run with
//
//	go test -run '^$' -bench Spool -benchtime 20000x ./internal/spool/
//
// and read records/s and fsyncs/request.

var benchValue = make([]byte, 300)

func BenchmarkSpoolAppend64(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := []Record{{Topic: "events", Partition: -1, Value: benchValue}}
	b.SetParallelism(64 / runtimeProcs())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(recs, false); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	fsyncs, appends := s.Fsyncs()
	b.ReportMetric(float64(appends)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(fsyncs)/float64(appends), "fsyncs/request")
}

// BenchmarkBboltBatch64 is the same load on bbolt, with db.Batch coalescing
// concurrent writers into one transaction (one commit: two fdatasyncs, of
// the pages and of the meta page).
func BenchmarkBboltBatch64(b *testing.B) {
	b.Run("delay=10ms", func(b *testing.B) { benchBbolt(b, 10*time.Millisecond) })
	b.Run("delay=1ms", func(b *testing.B) { benchBbolt(b, time.Millisecond) })
}

func benchBbolt(b *testing.B, delay time.Duration) {
	db, err := bolt.Open(b.TempDir()+"/spool.db", 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.MaxBatchDelay = delay
	bucket := []byte("spool")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	frame, _ := encodeBatch(nil, 0, []Record{{Topic: "events", Partition: -1, Value: benchValue}})
	var (
		seq, appends atomic.Int64
		txs          sync.Map
	)
	b.SetParallelism(64 / runtimeProcs())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := db.Batch(func(tx *bolt.Tx) error {
				txs.Store(tx, true)
				k := binary.BigEndian.AppendUint64(nil, uint64(seq.Add(1)))
				return tx.Bucket(bucket).Put(k, frame)
			})
			if err != nil {
				b.Error(err)
				return
			}
			appends.Add(1)
		}
	})
	b.StopTimer()
	commits := 0
	txs.Range(func(any, any) bool { commits++; return true })
	b.ReportMetric(float64(appends.Load())/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(commits)/float64(appends.Load()), "commits/request")
	b.ReportMetric(2*float64(commits)/float64(appends.Load()), "fsyncs/request")
}

// runtimeProcs is GOMAXPROCS, which RunParallel multiplies the parallelism by.
func runtimeProcs() int { return max(1, runtime.GOMAXPROCS(0)) }
