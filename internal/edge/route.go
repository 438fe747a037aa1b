package edge

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// call is one matched request: the event, the route's template (what logs
// carry, never the path) and its decoded path parameters.
type call struct {
	ev       events.APIGatewayV2HTTPRequest
	template string
	params   map[string]string
	// rest is a {name+} parameter as sent: still percent-encoded.
	rest string
	// attrs are what the route adds to the request's log line.
	attrs []slog.Attr
}

// routeDef is one method on one path template. A template's segments are
// literals, {name} (one non-empty segment) or, last, {name+} (one or more
// segments, kept escaped in call.rest).
type routeDef struct {
	method   string
	template string
	serve    func(ctx context.Context, c *call) (reply, error)
}

// anyMethod matches every method.
const anyMethod = "*"

// requestPath returns the event's path as the client sent it, without a
// named stage's prefix: HTTP APIs put "/<stage>" in front of rawPath for
// every stage but $default.
func requestPath(ev events.APIGatewayV2HTTPRequest) string {
	p := ev.RawPath
	if p == "" {
		p = ev.RequestContext.HTTP.Path
	}
	if st := ev.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(p, "/"+st); ok && (rest == "" || rest[0] == '/') {
			p = rest
			if p == "" {
				p = "/"
			}
		}
	}
	return p
}

// requestMethod returns the event's HTTP method in upper case.
func requestMethod(ev events.APIGatewayV2HTTPRequest) string {
	return strings.ToUpper(ev.RequestContext.HTTP.Method)
}

// match finds the route of method and path. A path no template matches is
// 404; a template matched with another method is 405 with Allow.
func match(routes []routeDef, method, path string, noRoute *httpjson.Error) (*routeDef, *call, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, nil, noRoute
	}
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	segs := strings.Split(path[1:], "/")
	var allowed []string
	var template string
	for i := range routes {
		r := &routes[i]
		params, rest, ok, err := matchTemplate(r.template, segs)
		if !ok {
			continue
		}
		template = r.template
		if r.method != anyMethod && r.method != method {
			allowed = append(allowed, r.method)
			continue
		}
		if err != nil {
			return r, &call{template: r.template}, err
		}
		return r, &call{template: r.template, params: params, rest: rest}, nil
	}
	if allowed != nil {
		sort.Strings(allowed)
		allow := strings.Join(allowed, ", ")
		return nil, &call{template: template}, httpjson.MethodNotAllowed(CodeMethodNotAllowed,
			"method not allowed on this route; allowed: "+allow, allow)
	}
	return nil, nil, noRoute
}

// matchTemplate matches segments against a template. ok says whether the
// shape matched; err is a parameter that is not valid percent-encoding.
func matchTemplate(template string, segs []string) (params map[string]string, rest string, ok bool, err error) {
	tsegs := strings.Split(strings.TrimPrefix(template, "/"), "/")
	for i, t := range tsegs {
		if strings.HasSuffix(t, "+}") {
			if i >= len(segs) {
				return nil, "", false, nil
			}
			tail := strings.Join(segs[i:], "/")
			if tail == "" {
				return nil, "", false, nil
			}
			return params, tail, true, err
		}
		if i >= len(segs) {
			return nil, "", false, nil
		}
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return nil, "", false, nil
			}
			v, uerr := url.PathUnescape(segs[i])
			if uerr != nil && err == nil {
				err = httpjson.BadRequest(CodeInvalidPath, strings.Trim(t, "{}"), "the path is not valid percent-encoding")
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.Trim(t, "{}")] = v
			continue
		}
		if t != segs[i] {
			return nil, "", false, nil
		}
	}
	if len(segs) != len(tsegs) {
		return nil, "", false, nil
	}
	return params, "", true, err
}

// headerOf turns an HTTP API event's headers into an http.Header. HTTP APIs
// lower-case header names and join repeated headers with commas.
func headerOf(ev events.APIGatewayV2HTTPRequest) http.Header {
	h := make(http.Header, len(ev.Headers))
	for k, v := range ev.Headers {
		h.Add(k, v)
	}
	return h
}
