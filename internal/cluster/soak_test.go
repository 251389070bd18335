package cluster_test

import (
	"os"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// TestSoak runs the gateway (SASL_SSL, every dialect) at a steady rate for
// CLUSTER_SOAK (default 10m) and samples its resident set and goroutine
// count every 5s. After a warm-up of a tenth of the run: no error answer,
// every record in Kafka exactly once, and both flat: the goroutines of the
// last third at most those of the first third plus 10, and the median RSS
// of the last third at most 25% over that of the first. It reports the
// slopes.
func TestSoak(t *testing.T) {
	e := clusterEnv(t)
	length := 10 * time.Minute
	if s := os.Getenv("CLUSTER_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("CLUSTER_SOAK=%q: %v", s, err)
		}
		length = d
	}
	r := startRun(t, e, e.scram(e.password), e.allowed, 0, "")
	pid := r.p.Cmd.Process.Pid
	start := time.Now()
	var mins, rssMiB, gors []float64
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for time.Since(start) < length {
		<-tick.C
		el := time.Since(start)
		if el < length/10 {
			continue // warm-up: buffers, TLS sessions, connection pools
		}
		mins = append(mins, el.Minutes())
		rssMiB = append(rssMiB, rss(t, pid)/1024)
		gors = append(gors, goroutines(t, r.p))
	}
	rep, _ := r.finish(t, false)
	if rep.errors != 0 {
		t.Errorf("%d error answers at a steady rate", rep.errors)
	}
	if len(mins) < 3 {
		t.Logf("run too short for slopes (%d samples)", len(mins))
		return
	}
	third := len(mins) / 3
	if third == 0 {
		third = 1
	}
	firstG, lastG := maxOf(gors[:third]), maxOf(gors[len(gors)-third:])
	firstR, lastR := median(rssMiB[:third]), median(rssMiB[len(rssMiB)-third:])
	t.Logf("soak %v at %.0f requests/s: RSS %.1f -> %.1f MiB (slope %.3f MiB/min), goroutines %.0f -> %.0f (slope %.3f /min), %d samples",
		length, float64(rep.requests)/time.Since(r.started).Seconds(), rssMiB[0], rssMiB[len(rssMiB)-1], slope(mins, rssMiB),
		gors[0], gors[len(gors)-1], slope(mins, gors), len(mins))
	if lastG > firstG+10 {
		t.Errorf("goroutines grow: at most %.0f in the first third, %.0f in the last", firstG, lastG)
	}
	if lastR > firstR*1.25 && relcheck.RaceEnabled {
		// The race detector's shadow memory grows with the memory touched.
		knownIssue(t, "under -race, "+
			"RSS grows: median %.1f MiB in the first third, %.1f in the last", firstR, lastR)
	} else if lastR > firstR*1.25 {
		t.Errorf("RSS grows: median %.1f MiB in the first third, %.1f in the last", firstR, lastR)
	}
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
