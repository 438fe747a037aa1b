package local

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TestHTTPAPIRequestShape checks the payload format 2.0 event against what
// an HTTP API sends its $default route.
func TestHTTPAPIRequestShape(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	h := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got = ev
		return events.APIGatewayV2HTTPResponse{
			StatusCode:        302,
			Headers:           map[string]string{"Location": "http://127.0.0.1:8081/x"},
			MultiValueHeaders: map[string][]string{"X-Many": {"a", "b"}},
			Cookies:           []string{"a=1; Path=/"},
			Body:              base64.StdEncoding.EncodeToString([]byte("moved")),
			IsBase64Encoded:   true,
		}, nil
	}
	srv := httptest.NewServer(NewHTTPAPI(h, nil))
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	cases := []struct {
		name, method, path, ctype, body string
		header                          http.Header
		rawPath, rawQuery               string
		query                           map[string]string
		cookies                         []string
		wantBody                        string
		base64                          bool
	}{
		{name: "webhook json", method: "POST", path: "/webhooks/shopify", ctype: "application/json", body: `{"id":1}`,
			rawPath: "/webhooks/shopify", wantBody: `{"id":1}`},
		{name: "binary body", method: "POST", path: "/webhooks/generic", ctype: "application/octet-stream", body: "\x00\x01",
			rawPath: "/webhooks/generic", wantBody: base64.StdEncoding.EncodeToString([]byte("\x00\x01")), base64: true},
		{name: "json that is not UTF-8", method: "POST", path: "/webhooks/generic", ctype: "application/json", body: "\xff",
			rawPath: "/webhooks/generic", wantBody: base64.StdEncoding.EncodeToString([]byte("\xff")), base64: true},
		{name: "escaped path and query", method: "GET", path: "/t/eu-help/%2E%2E/admin?a=1&a=2&b=x%20y", rawPath: "/t/eu-help/%2E%2E/admin",
			rawQuery: "a=1&a=2&b=x%20y", query: map[string]string{"a": "1,2", "b": "x y"}},
		{name: "cookies", method: "GET", path: "/t/x", header: http.Header{"Cookie": {"s=1; t=2"}}, rawPath: "/t/x", cookies: []string{"s=1", "t=2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got = events.APIGatewayV2HTTPRequest{}
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			for k, vs := range c.header {
				req.Header[k] = vs
			}
			req.Header.Add("X-Multi", "1")
			req.Header.Add("X-Multi", "2")
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 302 || string(body) != "moved" || resp.Header.Get("Location") != "http://127.0.0.1:8081/x" ||
				!slices.Equal(resp.Header.Values("X-Many"), []string{"a", "b"}) || resp.Header.Get("Set-Cookie") != "a=1; Path=/" {
				t.Errorf("answer %d %q %v", resp.StatusCode, body, resp.Header)
			}
			if got.Version != "2.0" || got.RouteKey != "$default" || got.RequestContext.RouteKey != "$default" || got.RequestContext.Stage != "$default" ||
				got.RawPath != c.rawPath || got.RequestContext.HTTP.Path != c.rawPath || got.RawQueryString != c.rawQuery ||
				got.RequestContext.HTTP.Method != c.method || got.RequestContext.HTTP.SourceIP != "127.0.0.1" || got.RequestContext.RequestID == "" {
				t.Errorf("event %+v", got)
			}
			if got.Headers["x-multi"] != "1,2" || got.Headers["host"] == "" || got.Headers["cookie"] != "" {
				t.Errorf("headers %v", got.Headers)
			}
			if !mapsEqual(got.QueryStringParameters, c.query) || !slices.Equal(got.Cookies, c.cookies) {
				t.Errorf("query %v cookies %v", got.QueryStringParameters, got.Cookies)
			}
			if got.Body != c.wantBody || got.IsBase64Encoded != c.base64 {
				t.Errorf("body %q base64 %v, want %q %v", got.Body, got.IsBase64Encoded, c.wantBody, c.base64)
			}
		})
	}
}

func TestHTTPAPIFailures(t *testing.T) {
	testFailures(t, []failureCase[HTTPHandler]{
		{"error", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, io.ErrUnexpectedEOF
		}, 500, "Internal Server Error"},
		{"bad base64", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "!", IsBase64Encoded: true}, nil
		}, 500, "Internal Server Error"},
		{"timeout", func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			<-ctx.Done()
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
		}, 503, "Service Unavailable"},
	}, func(h HTTPHandler, timeout time.Duration) http.Handler {
		a := NewHTTPAPI(h, discard())
		a.timeout = timeout
		return a
	}, "POST", "/webhooks/x", "{}", func(body []byte) string {
		var m struct{ Message string }
		json.Unmarshal(body, &m)
		return m.Message
	})
}

// TestHTTPAPIRoutes: with routes, the event carries the matched route's
// key and decoded path parameters, ANY matches every method, a route
// whose function has no handler is not served, and what no route matches
// is API Gateway's 404 {"message":"Not Found"}.
func TestHTTPAPIRoutes(t *testing.T) {
	var got []events.APIGatewayV2HTTPRequest
	var mu sync.Mutex
	record := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "{}"}, nil
	}
	routes := []HTTPRoute{
		{http.MethodPost, "/webhooks/{provider}", "a", true},
		{AnyMethod, "/t/{tenant}/{proxy+}", "a", true},
		{http.MethodGet, "/erasures/{globalId}", "b", false},
		{http.MethodGet, "/quarantine", "missing", false},
	}
	srv := httptest.NewServer(NewHTTPAPIRoutes(routes, map[string]HTTPHandler{"a": record, "b": record}, discard()))
	defer srv.Close()
	cases := []struct {
		method, path string
		routeKey     string
		params       map[string]string
	}{
		{"POST", "/webhooks/shopify", "POST /webhooks/{provider}", map[string]string{"provider": "shopify"}},
		{"DELETE", "/t/eu-help/a/b%2Fc", "ANY /t/{tenant}/{proxy+}", map[string]string{"tenant": "eu-help", "proxy": "a/b/c"}},
		{"GET", "/erasures/eg_1", "GET /erasures/{globalId}", map[string]string{"globalId": "eg_1"}},
		{"PUT", "/erasures/eg_1", "", nil},
		{"GET", "/quarantine", "", nil},
		{"GET", "/t/eu-help", "", nil},
	}
	for _, c := range cases {
		mu.Lock()
		got = nil
		mu.Unlock()
		resp, body := do(t, c.method, srv.URL+c.path, nil, "")
		if c.routeKey == "" {
			if resp.StatusCode != 404 || string(body) != `{"message":"Not Found"}` || len(got) != 0 {
				t.Errorf("%s %s = %d %s, want API Gateway's 404", c.method, c.path, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != 200 || len(got) != 1 {
			t.Errorf("%s %s = %d %s", c.method, c.path, resp.StatusCode, body)
			continue
		}
		ev := got[0]
		if ev.RouteKey != c.routeKey || ev.RequestContext.RouteKey != c.routeKey || !mapsEqual(ev.PathParameters, c.params) || ev.RawPath != c.path {
			t.Errorf("%s %s: routeKey %q params %v rawPath %q", c.method, c.path, ev.RouteKey, ev.PathParameters, ev.RawPath)
		}
	}
}
