//go:build ignore

// Kafka for .ci/schemathesis: the topics the API fuzzer produces to.
//
//	go run .ci/schemathesis-kafka.go create <brokers> <topic>:<partitions>...
//	go run .ci/schemathesis-kafka.go serve <topic>:<partitions>...
//
// create makes the topics on a running cluster (an existing topic is fine).
// serve starts an in-process kfake broker with the topics, prints
// "KAFKA_BROKERS=<addr>" and runs until it is signalled.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "schemathesis-kafka:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 1 {
		return errors.New("usage: create BROKERS TOPIC:PARTITIONS..., or serve TOPIC:PARTITIONS")
	}
	switch args[0] {
	case "create":
		if len(args) < 2 {
			return errors.New("create: want the brokers")
		}
		topics, err := parseTopics(args[2:])
		if err != nil {
			return err
		}
		return create(strings.Split(args[1], ","), topics)
	case "serve":
		topics, err := parseTopics(args[1:])
		if err != nil {
			return err
		}
		return serve(topics)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func parseTopics(args []string) (map[string]int32, error) {
	topics := make(map[string]int32, len(args))
	for _, a := range args {
		name, n, ok := strings.Cut(a, ":")
		p, err := strconv.ParseInt(n, 10, 32)
		if !ok || name == "" || err != nil || p < 1 {
			return nil, fmt.Errorf("topic %q: want name:partitions", a)
		}
		topics[name] = int32(p)
	}
	return topics, nil
}

func create(brokers []string, topics map[string]int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for name, p := range topics {
		res, err := adm.CreateTopic(ctx, p, 1, nil, name)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", name, err)
		}
	}
	return nil
}

func serve(topics map[string]int32) error {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("schemathesis")}
	for name, p := range topics {
		opts = append(opts, kfake.SeedTopics(p, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting kfake: %w", err)
	}
	defer c.Close()
	fmt.Println("KAFKA_BROKERS=" + strings.Join(c.ListenAddrs(), ","))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}
