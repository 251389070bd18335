package producer

import "context"

// bounded runs do, one call into franz-go made with ctx, and returns its
// result, or ctx's error as soon as ctx ends, whichever comes first.
//
// franz-go watches a request's context only once it has a connection to
// write the request on. A request to a broker whose connection is being
// opened (the TCP dial, then ApiVersions and SASL, which a broker that
// accepts TCP and never answers stalls) waits for that connection's own
// timeouts, DialTimeout (10s) by default, however soon ctx ends, and so
// does every request queued behind it to that broker. A request's deadline
// must bound what it waits for, so the call given up on runs to the end of
// those timeouts in its own goroutine, and its result is dropped.
func bounded[T any](ctx context.Context, do func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return do()
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := do()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-ch: // both ready: the answer wins
			return r.v, r.err
		default:
		}
		var zero T
		return zero, ctx.Err()
	}
}
