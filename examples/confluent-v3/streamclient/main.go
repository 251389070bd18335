// Command streamclient streams records to a confluent_v3 gateway over one
// full-duplex request and checks that every delivery report comes back, in
// order. With -lockstep it sends each record only after reading the report of
// the one before.
//
//	go run ./examples/confluent-v3/streamclient -n 10000
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"
)

type report struct {
	ErrorCode   int    `json:"error_code"`
	Message     string `json:"message"`
	PartitionID int32  `json:"partition_id"`
	Offset      int64  `json:"offset"`
}

func main() {
	url := flag.String("url", "http://localhost:8082/kafka/v3/clusters/cluster-1/topics/events/records", "records endpoint")
	n := flag.Int("n", 1000, "records to send")
	lockstep := flag.Bool("lockstep", false, "send record i+1 only after report i")
	flag.Parse()

	pr, pw := io.Pipe()
	next := make(chan int, 1)
	go func() {
		bw := bufio.NewWriter(pw)
		for i := range *n {
			if *lockstep && i > 0 {
				<-next
			}
			fmt.Fprintf(bw, `{"value":{"type":"STRING","data":"record %d"}}`, i)
			if *lockstep {
				bw.Flush()
			}
		}
		bw.Flush()
		pw.Close()
	}()

	req, err := http.NewRequest(http.MethodPost, *url, pr)
	if err != nil {
		log.Fatal(err)
	}
	req.ContentLength = -1 // chunked: the streaming mode
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		log.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	last := map[int32]int64{}
	for i := range *n {
		var r report
		if err := dec.Decode(&r); err != nil {
			log.Fatalf("report %d: %v", i, err)
		}
		if r.ErrorCode != 200 {
			log.Fatalf("record %d failed: %d %s", i, r.ErrorCode, r.Message)
		}
		if prev, ok := last[r.PartitionID]; ok && r.Offset <= prev {
			log.Fatalf("report %d out of order: partition %d offset %d after %d", i, r.PartitionID, r.Offset, prev)
		}
		last[r.PartitionID] = r.Offset
		if *lockstep {
			next <- i
		}
	}
	if err := dec.Decode(new(report)); err != io.EOF {
		log.Fatalf("after the last report: %v", err)
	}
	d := time.Since(start)
	fmt.Printf("%d records acknowledged in order in %v (%.0f records/s)\n", *n, d, float64(*n)/d.Seconds())
}
