// Package upstash is the Upstash Kafka REST produce dialect:
//
//	GET      /produce/{topic}/{message}?key=K   one record; answers one metadata object
//	GET|POST /produce/{topic}                  body: a message or an array of messages
//	GET|POST /produce                          the same, with a topic in each message
//
// Messages are {topic?, partition?, timestamp?, key?, value, headers?} with
// string key, value and header values, timestamp in epoch milliseconds. The
// answer is {topic, partition, offset, timestamp} for the first form and an
// array of them, in request order, for the others, even for a single message:
// the official @upstash/kafka client reads res[0]. Errors are
// {"error": "...", "status": N} with N the HTTP status. Put Caddy's basic_auth
// in front: Upstash clients send HTTP Basic credentials.
//
// Choices where the contract is silent:
//   - The body is JSON whatever the Content-Type (curl -d sends
//     application/x-www-form-urlencoded). A comma right before a closing
//     ']' or '}' (a trailing comma, as in the spec's own curl examples) is
//     accepted; nothing else outside JSON is: a comma after '[', '{', ':' or
//     another comma is still an error.
//   - Field names are matched as Go's encoding/json matches them (exact
//     first, then case-insensitively). A field that is not in the message
//     schema is a 400, so a misspelt "partiton" is not silently dropped.
//   - key, value and header values must be JSON strings (or null); numbers
//     and objects are a 400, not converted. value null or missing is a 400,
//     as is a message that is not an object.
//   - "key": "" (and ?key= in the GET form) is an empty, non-null key, which
//     Java's partitioner hashes like any other key; a missing or null key is
//     a null key, spread like Java spreads null keys.
//   - A header value null is a header with a null value; a header without a
//     key is a 400.
//   - partition and timestamp must be integers; a negative one is a 400 (Java's
//     ProducerRecord refuses both); null is the same as leaving them out.
//   - In /produce/{topic}, a message may repeat the path's topic but not
//     name another one (400).
//   - An empty array produces nothing and answers [] (200).
//   - The GET form takes its message from the path segment, path-decoded
//     once ("%2F" is "/", "+" stays "+"); the key query parameter is decoded
//     as a query ("+" is a space). Paths with empty or extra segments are
//     not this dialect's and go to the next handler; a method other than GET
//     (GET or POST for the body forms) is a 405 with Allow.
//   - A request is validated whole before anything is produced. If Kafka
//     then fails some records, the answer is the first failure's error: a
//     2xx always means every record was written.
package upstash

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func init() {
	caddy.RegisterModule(Upstash{})
}

// Upstash speaks Upstash's Kafka REST produce API. It has no options.
type Upstash struct{}

// CaddyModule returns the Caddy module information.
func (Upstash) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.kafka_rest.dialects.upstash",
		New: func() caddy.Module { return new(Upstash) },
	}
}

// Upstash's endpoints, as Match tells them.
const (
	endpointProduce    uint8 = iota // POST /produce, GET|POST /produce/{topic}
	endpointProduceGet              // GET /produce/{topic}/{message}
	endpointFetch                   // GET|POST /fetch
	endpointOffsets                 // GET|POST /offsets/{timestamp}
	endpointTopics                  // GET /topics
	endpointGroups                  // the consumer-group endpoints: 501
)

// Match claims Upstash's URL space: /produce, /fetch, /offsets, /topics and
// the consumer-group endpoints (/consume, /commit, /committed, /consumers,
// /delete-consumer, answered 501). Other paths under them are 404s.
func (Upstash) Match(r *http.Request) dialects.Match {
	p := r.URL.EscapedPath()
	first, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	getOrPost := r.Method == http.MethodGet || r.Method == http.MethodPost
	switch first {
	case "produce":
		topic, message, segments, ok := parsePath(p)
		switch {
		case !ok:
			return dialects.Match{Op: dialects.OpNotFound}
		case segments == 2 && r.Method != http.MethodGet:
			return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: http.MethodGet}
		case segments == 2:
			return dialects.Match{Op: dialects.OpProduce, Endpoint: endpointProduceGet, Topic: topic, Parts: [3]string{message}}
		case !getOrPost:
			return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: "GET, POST"}
		}
		return dialects.Match{Op: dialects.OpProduce, Endpoint: endpointProduce, Body: true, Topic: topic}
	case "fetch", "offsets":
		if first == "fetch" && p != "/fetch" || first == "offsets" && (rest == "" || strings.Contains(rest, "/")) {
			return dialects.Match{Op: dialects.OpNotFound}
		}
		if !getOrPost {
			return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: "GET, POST"}
		}
		if first == "fetch" {
			return dialects.Match{Op: dialects.OpFetch, Endpoint: endpointFetch, Body: true}
		}
		return dialects.Match{Op: dialects.OpFetch, Endpoint: endpointOffsets, Body: true, Parts: [3]string{r.URL.Path[len("/offsets/"):]}}
	case "topics":
		switch {
		case p != "/topics":
			return dialects.Match{Op: dialects.OpNotFound}
		case r.Method != http.MethodGet:
			return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: http.MethodGet}
		}
		return dialects.Match{Op: dialects.OpDescribe, Endpoint: endpointTopics}
	case "consume", "commit", "committed", "consumers", "delete-consumer":
		return dialects.Match{Op: dialects.OpDescribe, Endpoint: endpointGroups}
	}
	return dialects.Match{}
}

// single marks a request answered with one metadata object, not an array.
type single struct{}

// Decode reads one of the three produce forms.
func (Upstash) Decode(r *http.Request, m dialects.Match, lim dialects.Route) (*dialects.Request, error) {
	topic := m.Topic
	if m.Endpoint == endpointProduceGet {
		message := m.Parts[0]
		var err error
		if topic, err = url.PathUnescape(topic); err != nil {
			return nil, dialects.Errorf(producer.ClassBadRequest, "invalid escape in the topic")
		}
		if message, err = url.PathUnescape(message); err != nil {
			return nil, dialects.Errorf(producer.ClassBadRequest, "invalid escape in the message")
		}
		m := producer.Message{Topic: topic, Partition: -1, Value: []byte(message)}
		if q := r.URL.Query(); q.Has("key") {
			m.Key = []byte(q.Get("key"))
		}
		return &dialects.Request{Records: []producer.Message{m}, State: single{}}, nil
	}
	if topic != "" {
		var err error
		if topic, err = url.PathUnescape(topic); err != nil {
			return nil, dialects.Errorf(producer.ClassBadRequest, "invalid escape in the topic")
		}
	}
	body, err := dialects.ReadBody(r)
	if err != nil {
		return nil, err
	}
	records, err := decodeMessages(body, topic, lim.MaxRecords)
	if err != nil {
		return nil, err
	}
	return &dialects.Request{Records: records}, nil
}

// parsePath splits an escaped path /produce[/topic[/message]] into its
// still-escaped segments; ok is false for any other path.
func parsePath(p string) (topic, message string, segments int, ok bool) {
	rest, found := strings.CutPrefix(p, "/produce")
	if !found {
		return "", "", 0, false
	}
	if rest == "" {
		return "", "", 0, true
	}
	if rest[0] != '/' {
		return "", "", 0, false
	}
	topic, message, two := strings.Cut(rest[1:], "/")
	switch {
	case topic == "":
		return "", "", 0, false
	case !two:
		return topic, "", 1, true
	case message == "" || strings.IndexByte(message, '/') >= 0:
		return "", "", 0, false
	}
	return topic, message, 2, true
}

// metadata is an answer's entry, as json.Marshal writes it; Encode writes
// the same bytes by hand (FuzzEncode checks it).
type metadata struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp int64  `json:"timestamp"`
}

// Encode answers with the records' metadata: one object for the GET form, an
// array otherwise. Any failed record makes the answer that record's error.
func (u Upstash) Encode(w http.ResponseWriter, r *http.Request, req *dialects.Request, results []producer.Result) error {
	_, isSingle := req.State.(single)
	some, failed := dialects.SomeWritten(results)
	if failed && (!some || isSingle) {
		for _, res := range results {
			if res.Err != nil {
				u.WriteError(w, r, res.Err)
				return nil
			}
		}
	}
	var b []byte
	if isSingle {
		b = appendMetadata(make([]byte, 0, 128), req.Records[0].Topic, results[0])
	} else {
		b = make([]byte, 0, 2+len(results)*80)
		b = append(b, '[')
		for i, res := range results {
			if i > 0 {
				b = append(b, ',')
			}
			if res.Err != nil {
				b = dialects.AppendSimpleError(b, req.Records[i].Topic, res.Err)
				continue
			}
			b = appendMetadata(b, req.Records[i].Topic, res)
		}
		b = append(b, ']')
	}
	status := http.StatusOK
	if failed {
		// Some messages written, others not: each message's outcome.
		status = http.StatusMultiStatus
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// appendMetadata appends a record's metadata as json.Marshal writes it.
func appendMetadata(b []byte, topic string, res producer.Result) []byte {
	b = append(b, `{"topic":`...)
	b = jsonfast.AppendString(b, topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(res.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, res.Offset, 10)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, res.Timestamp.UnixMilli(), 10)
	return append(b, '}')
}

// WriteError writes {"error": "...", "status": N}.
func (Upstash) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	dialects.WriteSimpleError(w, err)
}

// Interface guards
var (
	_ dialects.Dialect    = (*Upstash)(nil)
	_ dialects.Discoverer = (*Upstash)(nil)
	_ dialects.Consumer   = (*Upstash)(nil)
)
