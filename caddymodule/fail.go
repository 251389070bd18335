package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// retryAfter sets Retry-After, the one way every answer gets it, when the
// request may succeed if sent again unchanged, later: for err, a failure
// of the whole request, or for a failed record of results of which none
// was written.
func retryAfter(w http.ResponseWriter, err error, results []producer.Result) {
	if err == nil {
		if some, _ := dialects.SomeWritten(results); some {
			// Part of the request was written: retrying it whole would
			// write that part twice.
			return
		}
		for i := range results {
			if results[i].Err != nil {
				err = results[i].Err
				if dialects.Retriable(err) {
					break
				}
			}
		}
	}
	if err != nil && dialects.Retriable(err) {
		w.Header().Set("Retry-After", "1")
	}
}

// fail writes err in the dialect's format, with Retry-After on every
// failure that the same request may overcome later unchanged: overload,
// Kafka unavailable or timing out, the gateway failing to authenticate.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error, records int) {
	err = h.unreachable(err)
	e := dialects.ErrorOf(err)
	retryAfter(w, err, nil)
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	h.annotate(r, "", 0, e.Class)
	h.metrics.failed(e.Class, records)
	if records > 0 {
		if info := infoOf(r); info != nil {
			info.records = records
		}
	}
	if e.Class == producer.ClassInternal || e.Class == producer.ClassKafka {
		h.logger.Error("request failed", zap.String("dialect", h.dialName), zap.String("cluster", h.cluster), zap.Error(err))
	}
	h.dialect.WriteError(w, r, err)
}

// unreachable tells a failure that only shows the cluster being unreachable
// (a timeout waiting for a broker that does not answer) as what it is, when
// the health check knows: the client gets the dialect's unavailable status,
// with a pointer to the admin API that knows why. Other errors pass as they
// are.
func (h *Handler) unreachable(err error) error {
	if errors.Is(err, errAway) || errors.Is(err, dialects.ErrOutcomeUnknown) {
		return err // already told so, or not about now
	}
	switch dialects.ErrorOf(err).Class {
	case producer.ClassTimeout, producer.ClassUnavailable:
	default:
		return err
	}
	if h.client.obs == nil {
		return err
	}
	st := h.client.obs.snapshot()
	if st.State != stateUnreachable {
		return err
	}
	return dialects.Unavailable(st.Since.UTC().Format(time.RFC3339), err)
}

// errAway is the cause of the answers given at once while the cluster is
// known unreachable: nothing was sent to Kafka.
var errAway = errors.New("the gateway's health checks find no broker answering; nothing was sent")

// away is the dialect's unavailable error, to answer at once, while the
// cluster's health check finds it unreachable, and nil otherwise. Waiting
// out the route's timeout (or the cluster's delivery_timeout) for a broker
// already known not to answer would only hold the client, and buffer
// records that may be written long after their request was answered as a
// failure. The health check asks every broker it knows concurrently, more
// often while the cluster is unreachable, so that one paused broker does
// not make the cluster look away, and a cluster back is served again
// within about healthRetry.
func (h *Handler) away() error {
	if h.client.obs == nil {
		return nil
	}
	st := h.client.obs.snapshot()
	if st.State != stateUnreachable {
		return nil
	}
	if producer.Classify(st.lastErr) == producer.ClassAuthFailed {
		// The brokers answer, and refuse the gateway's credentials: the
		// answer a request trying them would get (confluent_v3's 401
		// 40101, Confluent's own).
		return &dialects.Error{Class: producer.ClassAuthFailed, Message: dialects.ErrorOf(st.lastErr).Message, Err: errAway}
	}
	return dialects.Unavailable(st.Since.UTC().Format(time.RFC3339), errAway)
}
