package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/lethe-erasure/lethe/internal/config"
)

// Caller sends one request to a Lethe API (a region's or the edge's) and
// returns its answer: edge.RegionalClient, which signs requests to a
// deployed API with SigV4 and sends them unsigned to a local one.
type Caller interface {
	Call(ctx context.Context, to config.RegionEndpoint, method, escapedPath string, header http.Header, body []byte) (int, []byte, error)
}

// Answer is an API's answer as the console shows it after an action.
type Answer struct {
	Status int
	Body   []byte
	// Err is the API's error answer decoded (nil for a 2xx).
	Err *APIError
}

// APIError is an API's error answer: {"error": {"code", "message",
// "field"}}, or a transport failure (Status 0).
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *APIError) Error() string {
	switch {
	case e.Status == 0:
		return e.Message
	case e.Field != "":
		return fmt.Sprintf("HTTP %d %s (%s): %s", e.Status, e.Code, e.Field, e.Message)
	case e.Code != "":
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// apiError decodes a non-2xx answer.
func apiError(status int, body []byte) *APIError {
	var wrapped struct {
		Error *APIError `json:"error"`
	}
	if json.Unmarshal(body, &wrapped) == nil && wrapped.Error != nil {
		wrapped.Error.Status = status
		return wrapped.Error
	}
	var gateway struct {
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &gateway) == nil && gateway.Message != "" {
		msg = gateway.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &APIError{Status: status, Message: msg}
}

// client is the console's use of a Caller: every call carries header.
type client struct {
	caller Caller
	header http.Header
}

// send calls the API and returns its answer; only a transport failure is
// an error.
func (c *client) send(ctx context.Context, to config.RegionEndpoint, method, escapedPath string, header http.Header, body []byte) (Answer, error) {
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, v := range header {
		h[k] = v
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	status, answer, err := c.caller.Call(ctx, to, method, escapedPath, h, body)
	if err != nil {
		return Answer{}, &APIError{Message: fmt.Sprintf("%s %s: %v", method, pathOf(escapedPath), err)}
	}
	a := Answer{Status: status, Body: answer}
	if status < 200 || status > 299 {
		a.Err = apiError(status, answer)
	}
	return a, nil
}

// getJSON calls GET path and decodes a 200 into out; any other answer is
// an *APIError.
func (c *client) getJSON(ctx context.Context, to config.RegionEndpoint, escapedPath string, out any) error {
	a, err := c.send(ctx, to, http.MethodGet, escapedPath, nil, nil)
	if err != nil {
		return err
	}
	if a.Err != nil {
		return a.Err
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		return &APIError{Status: a.Status, Message: fmt.Sprintf("GET %s: the answer is not what the console reads: %v", pathOf(escapedPath), err)}
	}
	return nil
}

// pathOf is a path without its query (which may hold filters).
func pathOf(escapedPath string) string {
	if u, err := url.Parse(escapedPath); err == nil {
		return u.Path
	}
	return escapedPath
}
