package caddymodule

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// TestClientObsHidesSecrets checks that what the admin API and the logs show
// of a cluster carries neither its SASL secrets nor URL credentials, and
// that error texts are one bounded line.
func TestClientObsHidesSecrets(t *testing.T) {
	cl := Cluster{
		Brokers: []string{"kafka-1:9092", "user:pw-in-url@kafka-2:9092"},
		SASL:    &SASL{Mechanism: "plain", Username: "gateway", Password: "hunter2-pw"},
	}
	o := newClientObs("c", cl, zap.NewNop())
	if got := strings.Join(o.seeds, ","); got != "kafka-1:9092,kafka-2:9092" {
		t.Errorf("seeds %q", got)
	}
	msg := o.sanitize(errors.New("auth failed for hunter2-pw\nsecond line\x1b[31m" + strings.Repeat("é", 600)))
	if strings.Contains(msg, "hunter2-pw") || strings.ContainsAny(msg, "\n\x1b") {
		t.Errorf("sanitized error leaks or spans lines: %q", msg)
	}
	if !strings.HasPrefix(msg, "auth failed for [redacted] second line") {
		t.Errorf("sanitized error lost its text: %q", msg)
	}
	if len(msg) > maxErrorText+len("…") || !strings.HasSuffix(msg, "é…") {
		t.Errorf("sanitized error not cut at a rune boundary within %d bytes: %d bytes, ends %q", maxErrorText, len(msg), msg[len(msg)-8:])
	}

	oauth := newClientObs("c", Cluster{Brokers: []string{"k:9092"}, SASL: &SASL{Mechanism: "oauthbearer", Token: "tok-123456"}}, zap.NewNop())
	if msg := oauth.sanitize(errors.New("bad token tok-123456")); strings.Contains(msg, "tok-123456") {
		t.Errorf("token leaks: %q", msg)
	}
	if !newClientObs("e", Cluster{Brokers: []string{"embedded"}}, zap.NewNop()).embedded {
		t.Error("brokers embedded not seen as embedded")
	}
	// Never started: stop returns at once.
	o.stop()
	if o.snapshot().State != stateUnknown {
		t.Errorf("state before any check: %s", o.snapshot().State)
	}
}

// TestAwayAnswers: while the cluster is unreachable, requests are answered
// at once with the dialect's unavailable error, or, when the brokers
// refused the gateway's credentials, with the authentication failure a
// request trying them would get (confluent_v3 answers it 401 40101, as
// Confluent does); both with Retry-After. Reachable, nothing is refused.
// The real brokers' answer is checked by internal/cluster's
// TestBadCredentials.
func TestAwayAnswers(t *testing.T) {
	o := newClientObs("c", Cluster{Brokers: []string{"k:9092"}}, zap.NewNop())
	h := &Handler{client: &pooledClient{obs: o}}
	for _, c := range []struct {
		state string
		err   error
		want  producer.Class
	}{
		{stateReachable, nil, producer.ClassOK},
		{stateUnknown, nil, producer.ClassOK},
		{stateUnreachable, io.EOF, producer.ClassUnavailable},
		{stateUnreachable, fmt.Errorf("sasl: %w", kerr.SaslAuthenticationFailed), producer.ClassAuthFailed},
	} {
		o.state.Store(&health{State: c.state, Since: time.Now(), lastErr: c.err})
		err := h.away()
		if c.want == producer.ClassOK {
			if err != nil {
				t.Errorf("%s: refused with %v", c.state, err)
			}
			continue
		}
		if got := dialects.ErrorOf(err).Class; got != c.want || !dialects.Retriable(err) || !errors.Is(err, errAway) {
			t.Errorf("%s after %v: %v (class %v, retriable %v); want class %v, retriable", c.state, c.err, err, got, dialects.Retriable(err), c.want)
		}
	}
}
