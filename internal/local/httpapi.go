package local

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// HTTPHandler is a Lambda handler behind an HTTP API (API Gateway v2,
// payload format 2.0): the edge's functions.
type HTTPHandler func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// HTTP API limits.
const (
	// HTTPAPITimeout is an HTTP API's longest integration timeout.
	HTTPAPITimeout = 30 * time.Second
)

// HTTPRoute is one route of an HTTP API as infra/edge_api.go declares it
// (EdgeRoutes): a method (AnyMethod for ANY) on a path template ({name} one
// segment, {name+} the rest), the function its Lambda proxy integration
// calls, and whether the route is public or IAM-authorised on AWS.
type HTTPRoute struct {
	Method   string
	Path     string
	Function string // registry.Fn*
	Public   bool
}

// AnyMethod is an HTTP API route's ANY method.
const AnyMethod = "ANY"

// Key is the route key API Gateway puts in the event: "POST /webhooks/{provider}".
func (r HTTPRoute) Key() string { return r.Method + " " + r.Path }

// HTTPAPI is an HTTP API (API Gateway v2, payload format 2.0, $default
// stage) in front of in-process handlers: it matches the request against
// the API's routes, builds the events.APIGatewayV2HTTPRequest API Gateway
// sends (RouteKey and PathParameters of the matched route) and writes back
// the handler's answer. API Gateway's own answers keep its shape,
// {"message": "..."}: a request no route matches is 404 "Not Found",
// unless a function answers it (WithDefault), and a body over 10 MB is
// 413 (a deployed HTTP API cannot answer that one otherwise).
//
// What it does not do: IAM (SigV4) authorisation of the routes that are
// not Public. The local APIs listen on 127.0.0.1 only and the local
// operator is their only caller, as on the regional Gateway.
type HTTPAPI struct {
	handler  HTTPHandler // the $default route's, when routes is nil
	routes   []HTTPRoute
	handlers map[string]HTTPHandler
	// defaultFn answers what no route matches (WithDefault).
	defaultFn string
	stage     string
	log       *slog.Logger
	timeout   time.Duration
}

// NewHTTPAPI serves handler on the $default route of the $default stage.
func NewHTTPAPI(handler HTTPHandler, log *slog.Logger) *HTTPAPI {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTPAPI{handler: handler, stage: "$default", log: log, timeout: HTTPAPITimeout}
}

// NewHTTPAPIRoutes serves routes with handlers keyed by HTTPRoute.Function
// on the $default stage; a route whose function has no handler is left
// out (as an API deployed without it).
func NewHTTPAPIRoutes(routes []HTTPRoute, handlers map[string]HTTPHandler, log *slog.Logger) *HTTPAPI {
	a := NewHTTPAPI(nil, log)
	a.handlers = handlers
	a.routes = []HTTPRoute{}
	for _, r := range routes {
		if handlers[r.Function] != nil {
			a.routes = append(a.routes, r)
		}
	}
	return a
}

// DefaultRouteKey is the route key of a request no route matches, which
// the $default route's function answers (as the edge's infra does).
const DefaultRouteKey = "$default"

// WithDefault makes fn answer every request no route matches, as an HTTP
// API's $default route does.
func (a *HTTPAPI) WithDefault(fn string) *HTTPAPI {
	a.defaultFn = fn
	return a
}

// match finds the route of a method and raw path, and its decoded path
// parameters; a {name+} parameter holds the rest of the path.
func (a *HTTPAPI) match(method, rawPath string) (HTTPRoute, map[string]string, bool) {
	return matchRoute(a.routes, rawPath, func(r HTTPRoute) (string, bool) {
		return r.Path, r.Method == AnyMethod || r.Method == method
	})
}

func writeHTTPAPIError(w http.ResponseWriter, status int, message, requestID string) {
	b, _ := json.Marshal(map[string]string{"message": message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Apigw-Requestid", requestID)
	w.WriteHeader(status)
	w.Write(b)
}

// ServeHTTP is one HTTP API request.
func (a *HTTPAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := uuid.NewString()
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		writeHTTPAPIError(w, http.StatusBadRequest, "Bad Request", requestID)
		return
	}
	if len(body) > MaxPayloadBytes {
		writeHTTPAPIError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large", requestID)
		return
	}
	handler := a.handler
	var route HTTPRoute
	var params map[string]string
	if a.routes != nil {
		var ok bool
		if route, params, ok = a.match(r.Method, r.URL.EscapedPath()); !ok {
			if a.handlers[a.defaultFn] == nil {
				writeHTTPAPIError(w, http.StatusNotFound, "Not Found", requestID)
				return
			}
			route = HTTPRoute{Method: AnyMethod, Path: DefaultRouteKey, Function: a.defaultFn}
		}
		handler = a.handlers[route.Function]
	}
	ev := HTTPAPIRequest(r, body, a.stage, requestID, time.Now())
	if a.routes != nil {
		ev.RouteKey, ev.RequestContext.RouteKey = route.Key(), route.Key()
		if route.Path == DefaultRouteKey {
			ev.RouteKey, ev.RequestContext.RouteKey = DefaultRouteKey, DefaultRouteKey
		}
		if len(params) > 0 {
			ev.PathParameters = params
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	resp, err := handler(ctx, ev)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		writeHTTPAPIError(w, http.StatusServiceUnavailable, "Service Unavailable", requestID)
		return
	case err != nil || resp.StatusCode < 100 || resp.StatusCode > 599:
		a.log.Error("integration failed", "method", r.Method, "apigwRequestId", requestID, "error", errText(err))
		writeHTTPAPIError(w, http.StatusInternalServerError, "Internal Server Error", requestID)
		return
	}
	if err := WriteHTTPAPIResponse(w, resp, requestID); err != nil {
		a.log.Error("malformed integration response", "method", r.Method, "apigwRequestId", requestID, "error", err.Error())
		writeHTTPAPIError(w, http.StatusInternalServerError, "Internal Server Error", requestID)
	}
}

// HTTPAPIRequest builds the payload format 2.0 event of r on the $default
// route: header names lower-cased and repeated headers joined with commas,
// cookies moved from Cookie headers into Cookies, query parameters decoded
// with repeats joined by commas (RawQueryString as sent), RawPath as sent
// (with "/<stage>" in front for a named stage), and the body base64-encoded
// unless its Content-Type is text and it is UTF-8.
func HTTPAPIRequest(r *http.Request, body []byte, stage, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if name == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[name] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	if r.ContentLength > 0 {
		headers["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	var query map[string]string
	if r.URL.RawQuery != "" {
		query = map[string]string{}
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			k, v = queryUnescape(k), queryUnescape(v)
			if old, ok := query[k]; ok {
				v = old + "," + v
			}
			query[k] = v
		}
	}
	path := r.URL.EscapedPath()
	if stage != "" && stage != "$default" {
		path = "/" + stage + path
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    Account,
			Stage:        stage,
			RequestID:    requestID,
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: "local",
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r.RemoteAddr),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		ev.Body, ev.IsBase64Encoded = eventBody(body, isText(r.Header.Get("Content-Type")))
	}
	return ev
}

// isText reports whether an HTTP API passes a body of this type as text.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// WriteHTTPAPIResponse writes a payload format 2.0 answer: status, headers
// (a comma-joined value stays one header), multi-value headers, cookies as
// Set-Cookie, the body base64-decoded when IsBase64Encoded.
func WriteHTTPAPIResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse, requestID string) error {
	return writeAnswer(w, answer{
		status: resp.StatusCode, headers: resp.Headers, multiValueHeaders: resp.MultiValueHeaders,
		cookies: resp.Cookies, body: resp.Body, base64: resp.IsBase64Encoded,
	}, "Apigw-Requestid", requestID, false)
}
