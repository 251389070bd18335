package schema

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/sync/singleflight"
)

// Registry is one cluster's registry client with its caches. It is safe for
// concurrent use; every route of the cluster shares one.
type Registry struct {
	cfg  Config
	cl   *sr.Client
	http *http.Client
	sf   singleflight.Group

	mu sync.RWMutex
	// ids are compiled schemas by id, kept for ever: an id never changes.
	ids map[int]*Schema
	// lookups are answers about subjects, kept for CacheTTL, then refreshed;
	// a refresh the registry cannot answer keeps the old one.
	lookups map[lookupKey]lookup
	// compiled are inline schemas already compiled, by format and text,
	// so that a request naming one again skips the compiler.
	compiled map[compiledKey]*Schema
}

type compiledKey struct {
	format Format
	text   string
}

type lookupKind uint8

const (
	byVersion lookupKind = iota // subject and version (0 = latest) -> id, version
	byInline                    // subject and schema text -> id, version
	bySchema                    // subject and id -> version
)

type lookupKey struct {
	kind    lookupKind
	subject string
	version int // byVersion
	id      int // bySchema
	format  Format
	text    string // byInline
}

func (k lookupKey) flight() string {
	return strings.Join([]string{"l", strconv.Itoa(int(k.kind)), k.subject, strconv.Itoa(k.version),
		strconv.Itoa(k.id), strconv.Itoa(int(k.format)), k.text}, "\x00")
}

type lookup struct {
	id, version int
	at          time.Time
}

// New makes a registry client for cfg. It does not contact the registry:
// a registry that is down at start-up fails only the records that need it.
func New(cfg Config) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.TLS
	httpcl := &http.Client{Transport: tr, Timeout: cfg.RequestTimeout}
	opts := []sr.ClientOpt{sr.URLs(cfg.URLs...), sr.HTTPClient(httpcl), sr.UserAgent("caddy-kafka")}
	if cfg.BasicAuth != nil {
		opts = append(opts, sr.BasicAuth(cfg.BasicAuth.User, cfg.BasicAuth.Password))
	}
	if cfg.BearerToken != "" {
		opts = append(opts, sr.BearerToken(cfg.BearerToken))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return &Registry{cfg: cfg, cl: cl, http: httpcl, ids: map[int]*Schema{},
		lookups: map[lookupKey]lookup{}, compiled: map[compiledKey]*Schema{}}, nil
}

// Close releases the client's idle connections.
func (r *Registry) Close() { r.http.CloseIdleConnections() }

// Config is the configuration the registry was made with.
func (r *Registry) Config() Config { return r.cfg }

// Client is the underlying franz-go registry client, for tests and tools
// that administer the registry (compatibility levels, deleting subjects).
func (r *Registry) Client() *sr.Client { return r.cl }

// flight runs fn once for concurrent callers with the same key. The shared
// call does not inherit one caller's cancellation (the HTTP client's timeout
// bounds it); each caller stops waiting when its own ctx is done.
func flight[T any](ctx context.Context, r *Registry, key string, fn func(context.Context) (T, error)) (T, error) {
	ch := r.sf.DoChan(key, func() (any, error) {
		return fn(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		v, _ := res.Val.(T)
		return v, res.Err
	case <-ctx.Done():
		var zero T
		return zero, &Error{Kind: KindUnavailable, Msg: "schema registry lookup cancelled or timed out", Cause: ctx.Err()}
	}
}

// ByID returns the schema with the given id, from the cache or the registry.
func (r *Registry) ByID(ctx context.Context, id int) (*Schema, error) {
	if id <= 0 {
		return nil, errorf(KindUnknownID, "schema id %d: ids are positive", id)
	}
	r.mu.RLock()
	s := r.ids[id]
	r.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	return flight(ctx, r, "i\x00"+strconv.Itoa(id), func(ctx context.Context) (*Schema, error) {
		what := fmt.Sprintf("schema id %d", id)
		got, err := r.cl.SchemaByID(ctx, id)
		if err != nil {
			return nil, registryError(err, what)
		}
		if len(got.References) > 0 {
			return nil, errorf(KindInvalidSchema, "%s references other schemas, which the gateway does not support", what)
		}
		s, err := Compile(formatOf(got.Type), got.Schema)
		if err != nil {
			e := err.(*Error)
			e.Msg = what + ": " + e.Msg
			return nil, e
		}
		s.ID = id
		return r.keep(s), nil
	})
}

// keep caches s under its id, or returns the schema already cached there.
func (r *Registry) keep(s *Schema) *Schema {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.ids[s.ID]; old != nil {
		return old
	}
	r.ids[s.ID] = s
	return s
}

// cached answers k from the cache while it is fresh; else it asks fetch, and
// when fetch finds the registry unavailable it keeps answering from a stale
// entry.
func (r *Registry) cached(ctx context.Context, k lookupKey, fetch func(context.Context) (lookup, error)) (lookup, error) {
	r.mu.RLock()
	l, ok := r.lookups[k]
	r.mu.RUnlock()
	if ok && time.Since(l.at) < r.cfg.CacheTTL {
		return l, nil
	}
	fresh, err := flight(ctx, r, k.flight(), func(ctx context.Context) (lookup, error) {
		l, err := fetch(ctx)
		if err != nil {
			return l, err
		}
		l.at = time.Now()
		r.store(k, l)
		return l, nil
	})
	switch {
	case err == nil:
		return fresh, nil
	case ok && KindOf(err) == KindUnavailable: // the registry is away: serve what was cached
		return l, nil
	case ok:
		// The registry said no (a deleted subject or version): forget it.
		r.mu.Lock()
		delete(r.lookups, k)
		r.mu.Unlock()
	}
	return lookup{}, err
}

func (r *Registry) store(k lookupKey, l lookup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.lookups[k]; !ok && len(r.lookups) >= r.cfg.MaxInline+r.maxSubjects() {
		r.evictLocked()
	}
	r.lookups[k] = l
}

// maxSubjects is room for subject and version lookups besides the inline
// schemas, which are what a client can multiply at will.
func (r *Registry) maxSubjects() int { return 4 * r.cfg.MaxInline }

// evictLocked drops expired entries, or else an arbitrary one: a bounded
// cache that forgets is still correct, only slower.
func (r *Registry) evictLocked() {
	n := 0
	for k, l := range r.lookups {
		if time.Since(l.at) >= r.cfg.CacheTTL {
			delete(r.lookups, k)
			n++
		}
	}
	if n > 0 {
		return
	}
	for k := range r.lookups {
		delete(r.lookups, k)
		return
	}
}

// ByVersion returns a subject's schema at version, or its latest version for
// version 0, with the version number.
func (r *Registry) ByVersion(ctx context.Context, subject string, version int) (*Schema, int, error) {
	if version < 0 {
		return nil, 0, errorf(KindUnknownVersion, "subject %q version %d: versions are positive", subject, version)
	}
	what := fmt.Sprintf("subject %q version %d", subject, version)
	if version == 0 {
		what = fmt.Sprintf("subject %q latest version", subject)
	}
	l, err := r.cached(ctx, lookupKey{kind: byVersion, subject: subject, version: version}, func(ctx context.Context) (lookup, error) {
		v := version
		if v == 0 {
			v = -1 // the client's "latest"
		}
		ss, err := r.cl.SchemaByVersion(ctx, subject, v)
		if err != nil {
			return lookup{}, registryError(err, what)
		}
		return lookup{id: ss.ID, version: ss.Version}, nil
	})
	if err != nil {
		return nil, 0, err
	}
	s, err := r.ByID(ctx, l.id)
	return s, l.version, err
}

// VersionOf returns the version under which subject has the schema s.
func (r *Registry) VersionOf(ctx context.Context, subject string, s *Schema) (int, error) {
	what := fmt.Sprintf("schema %d under subject %q", s.ID, subject)
	l, err := r.cached(ctx, lookupKey{kind: bySchema, subject: subject, id: s.ID}, func(ctx context.Context) (lookup, error) {
		ss, err := r.cl.LookupSchema(ctx, subject, sr.Schema{Schema: s.Text, Type: s.Format.srType()})
		if err != nil {
			err = registryError(err, what)
			if k := KindOf(err); k == KindUnknownID || k == KindUnknownSubject {
				err = errorf(KindUnknownSubject, "%s: the subject does not have this schema", what)
			}
			return lookup{}, err
		}
		return lookup{id: ss.ID, version: ss.Version}, nil
	})
	return l.version, err
}

// Register returns the id and version of an inline schema under subject,
// registering it there first if the subject does not have it and
// AutoRegister is on. The schema is compiled (and an invalid one refused)
// before the registry is asked.
func (r *Registry) Register(ctx context.Context, subject string, s *Schema) (*Schema, int, error) {
	what := fmt.Sprintf("%s schema under subject %q", s.Format, subject)
	schema := sr.Schema{Schema: s.Text, Type: s.Format.srType()}
	l, err := r.cached(ctx, lookupKey{kind: byInline, subject: subject, format: s.Format, text: s.Text}, func(ctx context.Context) (lookup, error) {
		ss, err := r.cl.LookupSchema(ctx, subject, schema)
		if err == nil {
			return lookup{id: ss.ID, version: ss.Version}, nil
		}
		err = registryError(err, what)
		if k := KindOf(err); k != KindUnknownSubject && k != KindUnknownID {
			return lookup{}, err
		}
		if !r.cfg.AutoRegister {
			return lookup{}, errorf(KindUnknownSubject, "%s: not registered, and this gateway does not register schemas (auto_register off): register it first or use its id", what)
		}
		if _, err := r.cl.RegisterSchema(ctx, subject, schema, -1, -1); err != nil {
			return lookup{}, registryError(err, "registering "+what)
		}
		ss, err = r.cl.LookupSchema(ctx, subject, schema)
		if err != nil {
			return lookup{}, registryError(err, what)
		}
		return lookup{id: ss.ID, version: ss.Version}, nil
	})
	if err != nil {
		return nil, 0, err
	}
	c := *s
	c.ID = l.id
	return r.keep(&c), l.version, nil
}

// compile compiles an inline schema, or returns it compiled before. Invalid
// schemas are not remembered: they cost a compile each time, like a valid
// one the first time.
func (r *Registry) compile(f Format, text string) (*Schema, error) {
	k := compiledKey{f, text}
	r.mu.RLock()
	s := r.compiled[k]
	r.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	s, err := Compile(f, text)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.compiled) >= r.cfg.MaxInline {
		for k := range r.compiled {
			delete(r.compiled, k)
			break
		}
	}
	r.compiled[k] = s
	return s, nil
}
