package dialects

import (
	"net/http"
	"strconv"

	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// SimpleError is the error envelope of Upstash and of the webhook dialect:
// {"error": "...", "status": N}, with N also the HTTP status.
type SimpleError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// SimpleStatus is the HTTP status of a class for dialects without codes of
// their own.
func SimpleStatus(c producer.Class) int {
	switch c {
	case producer.ClassBadRequest:
		return http.StatusBadRequest
	case producer.ClassUnknownTopic, producer.ClassUnknownPartition:
		return http.StatusNotFound
	case producer.ClassTooLarge:
		return http.StatusRequestEntityTooLarge
	case producer.ClassNotAuthorized:
		return http.StatusForbidden
	case producer.ClassTimeout:
		return http.StatusGatewayTimeout
	case producer.ClassOverloaded, producer.ClassUnavailable, producer.ClassAuthFailed:
		// The gateway failing to authenticate to Kafka is Kafka being
		// unavailable to the client, who can do nothing but retry.
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteSimpleError writes err as a SimpleError.
func WriteSimpleError(w http.ResponseWriter, err error) {
	e := ErrorOf(err)
	status := e.Status
	if status == 0 {
		status = SimpleStatus(e.Class)
	}
	_ = WriteJSON(w, status, "application/json", SimpleError{Error: e.Message, Status: status})
}

// SomeWritten reports whether results hold both written and failed
// records: a request such an answer must report record by record, never as
// one error (the client would retry the records already written).
func SomeWritten(results []producer.Result) (some, failed bool) {
	for i := range results {
		if results[i].Err == nil {
			some = true
		} else {
			failed = true
		}
	}
	return some, failed
}

// AppendSimpleError appends a record's failure as the simple dialects
// write it in a 207 answer: {"topic","error","status"}.
func AppendSimpleError(buf []byte, topic string, err error) []byte {
	e := ErrorOf(err)
	status := e.Status
	if status == 0 {
		status = SimpleStatus(e.Class)
	}
	buf = append(buf, `{"topic":`...)
	buf = jsonfast.AppendString(buf, topic)
	buf = append(buf, `,"error":`...)
	buf = jsonfast.AppendString(buf, e.Message)
	buf = append(buf, `,"status":`...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	return append(buf, '}')
}
