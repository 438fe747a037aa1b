package local

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/lethe-erasure/lethe/internal/registry"
)

// ProxyHandler is a Lambda handler behind a REST API proxy integration
// (api.(*Handler).Handle, receiver.(*Handler).Handle).
type ProxyHandler func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Route is one method on one resource of a REST API, as infra/api.go
// declares it: the resource template ({name} one segment, {name+} the
// rest) and the function its proxy integration calls.
type Route struct {
	Method   string
	Resource string
	Function string // registry.Fn*
}

// RegionalRoutes are the methods of the regional REST API (infra/api.go
// NewAPI), with the function behind each.
var RegionalRoutes = []Route{
	{http.MethodPost, "/erasures", registry.FnAPI},
	{http.MethodGet, "/erasures", registry.FnAPI},
	{http.MethodGet, "/erasures/{requestId}", registry.FnAPI},
	{http.MethodPost, "/erasures/{requestId}/retry", registry.FnAPI},
	{http.MethodPost, "/erasures/{requestId}/extension", registry.FnAPI},
	{http.MethodGet, "/erasures/{requestId}/subject", registry.FnAPI},
	{http.MethodPost, "/erasures/{requestId}/subsystems/{name}/attestation", registry.FnAPI},
	{http.MethodGet, "/audit", registry.FnAPI},
	{http.MethodPost, "/suppressions/check", registry.FnAPI},
	{http.MethodGet, "/erasures/{requestId}/certificate", registry.FnAPI},
	{http.MethodGet, "/keys", registry.FnAPI},
	{http.MethodPost, "/callbacks", registry.FnAPI},
	{http.MethodDelete, "/api/user/{id}", registry.FnAPI},
	{http.MethodPut, "/tenants/{tenant}", registry.FnAPI},
	{http.MethodGet, "/tenants/{tenant}", registry.FnAPI},
	{http.MethodPost, "/webhooks/{provider}", registry.FnWebhookReceiver},
	{http.MethodPost, "/webhooks/{provider}/release", registry.FnWebhookReceiver},
}

// OperatorHeader names the operator under lethe local (`lethe ...
// --operator NAME`): API Gateway would put the caller's IAM ARN where the
// local gateway puts local:<name>. A deployed API ignores the header.
const OperatorHeader = "X-Lethe-Operator"

var operatorRE = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)

// Operator is the identity the local gateway gives a caller: local:<name>
// for a well-formed name, local:operator otherwise.
func Operator(name string) string {
	if !operatorRE.MatchString(name) {
		name = "operator"
	}
	return "local:" + name
}

// Limits API Gateway itself enforces on a REST API.
const (
	// MaxPayloadBytes is API Gateway's request payload limit (10 MB).
	MaxPayloadBytes = 10 << 20
	// IntegrationTimeout is the REST API's integration timeout (29 s).
	IntegrationTimeout = 29 * time.Second
	// Stage is the stage name infra/api.go deploys (APIStageName).
	Stage = "v1"
)

// Gateway is a REST API (API Gateway v1, Lambda proxy integrations, binary
// media types */*) in front of in-process handlers: it matches the
// request against the API's resources and methods, builds the
// events.APIGatewayProxyRequest API Gateway would send, calls the handler
// and writes back its events.APIGatewayProxyResponse. What API Gateway
// answers by itself it answers the same way, in the shape of the stack's
// gateway responses (infra/api.go apiErrorTemplate): a path or method the
// API does not declare is 403 MISSING_AUTHENTICATION_TOKEN, a failed or
// malformed integration 502, an integration slower than 29 s 504.
//
// What it does not do: IAM (SigV4) authorisation, which the deployed API
// requires on every route but the webhooks: the local APIs listen on
// 127.0.0.1 only, and the local operator is the only caller.
type Gateway struct {
	routes   []Route
	handlers map[string]ProxyHandler
	log      *slog.Logger
	timeout  time.Duration
}

// NewGateway serves routes with handlers keyed by Route.Function; a route
// whose function has no handler is left out (as an API deployed without
// it).
func NewGateway(routes []Route, handlers map[string]ProxyHandler, log *slog.Logger) *Gateway {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{handlers: handlers, log: log, timeout: IntegrationTimeout}
	for _, r := range routes {
		if handlers[r.Function] != nil {
			g.routes = append(g.routes, r)
		}
	}
	return g
}

// gatewayError is an answer of API Gateway itself: its response type, as
// $context.error.responseType names it, and message.
type gatewayError struct {
	status  int
	typ     string
	message string
	// header is API Gateway's x-amzn-ErrorType header.
	header string
}

var (
	errMissingToken = gatewayError{http.StatusForbidden, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", "MissingAuthenticationTokenException"}
	errTooLarge     = gatewayError{http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "Request Too Long", "RequestTooLargeException"}
	errIntegration  = gatewayError{http.StatusBadGateway, "INTEGRATION_FAILURE", "Internal server error", "InternalServerErrorException"}
	errTimeout      = gatewayError{http.StatusGatewayTimeout, "INTEGRATION_TIMEOUT", "Endpoint request timed out", "InternalServerErrorException"}
)

// write answers with the stack's gateway response template:
// {"error":{"code":"<responseType>","message":"<message>","field":""}}.
func (e gatewayError) write(w http.ResponseWriter, requestID string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e.typ, "message": e.message, "field": ""}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("x-amzn-ErrorType", e.header)
	w.WriteHeader(e.status)
	w.Write(b)
}

// ServeHTTP is one API Gateway request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := uuid.NewString()
	route, params, ok := g.match(r.Method, r.URL.EscapedPath())
	if !ok {
		errMissingToken.write(w, requestID)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		errIntegration.write(w, requestID)
		return
	}
	if len(body) > MaxPayloadBytes {
		errTooLarge.write(w, requestID)
		return
	}
	ev := ProxyRequest(r, route.Resource, params, body, requestID, time.Now())
	ctx, cancel := context.WithTimeout(r.Context(), g.timeout)
	defer cancel()
	resp, err := g.handlers[route.Function](ctx, ev)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		errTimeout.write(w, requestID)
		return
	case err != nil || resp.StatusCode < 100 || resp.StatusCode > 599:
		// The handlers never return an error (every failure is an HTTP
		// answer); one that does gets API Gateway's 502, and the error
		// goes to the log by route template only: a path may carry a
		// subject id.
		g.log.Error("integration failed", "resource", route.Resource, "method", route.Method, "awsRequestId", requestID, "error", errText(err))
		errIntegration.write(w, requestID)
		return
	}
	if err := WriteProxyResponse(w, resp, requestID); err != nil {
		g.log.Error("malformed integration response", "resource", route.Resource, "method", route.Method, "awsRequestId", requestID, "error", err.Error())
		errIntegration.write(w, requestID)
	}
}

func errText(err error) string {
	if err == nil {
		return "status code out of range"
	}
	return err.Error()
}

// match finds the route of a method and raw (escaped) path, and its path
// parameters, percent-decoded as API Gateway passes them. A parameter that
// is not valid percent-encoding is left out; the handler then reads the
// raw path and refuses it with a 400 naming the field.
func (g *Gateway) match(method, rawPath string) (Route, map[string]string, bool) {
	return matchRoute(g.routes, rawPath, func(r Route) (string, bool) { return r.Resource, r.Method == method })
}

// matchRoute finds the first of routes that accepts the request (template
// returns its path template and whether its method fits) and matches the
// raw (escaped) path, with its decoded path parameters: the matching both
// API Gateway flavours do. A trailing slash is ignored.
func matchRoute[R any](routes []R, rawPath string, template func(R) (string, bool)) (R, map[string]string, bool) {
	var none R
	path := rawPath
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if !strings.HasPrefix(path, "/") {
		return none, nil, false
	}
	segs := strings.Split(path[1:], "/")
	for _, r := range routes {
		tmpl, ok := template(r)
		if !ok {
			continue
		}
		if params, ok := matchResource(tmpl, segs); ok {
			return r, params, true
		}
	}
	return none, nil, false
}

// matchResource matches path segments against a resource template.
func matchResource(resource string, segs []string) (map[string]string, bool) {
	tsegs := strings.Split(strings.TrimPrefix(resource, "/"), "/")
	params := map[string]string{}
	for i, t := range tsegs {
		if i >= len(segs) || segs[i] == "" {
			return nil, false
		}
		switch {
		case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "+}"):
			tail := strings.Join(segs[i:], "/")
			if v, err := url.PathUnescape(tail); err == nil {
				params[t[1:len(t)-2]] = v
			}
			return params, true
		case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}"):
			if v, err := url.PathUnescape(segs[i]); err == nil {
				params[t[1:len(t)-1]] = v
			}
		case t != segs[i]:
			return nil, false
		}
	}
	return params, len(segs) == len(tsegs)
}

// ProxyRequest builds the event a REST API's Lambda proxy integration
// sends for r (whose body was read into body) when it matched resource
// with the given path parameters:
//   - Path is the path as sent, percent-encoding kept; PathParameters are
//     decoded; Resource and RequestContext.ResourcePath are the template.
//   - Query string parameters are decoded; QueryStringParameters holds the
//     last value of each, MultiValueQueryStringParameters all of them, in
//     order (both nil without a query string, as API Gateway sends null).
//   - Headers holds the last value of each header, MultiValueHeaders all.
//   - With binaryMediaTypes */* (infra/api.go), every body that has a
//     Content-Type is passed base64-encoded with IsBase64Encoded; a body
//     without one is passed as text when it is UTF-8. An empty body is "".
func ProxyRequest(r *http.Request, resource string, params map[string]string, body []byte, requestID string, now time.Time) events.APIGatewayProxyRequest {
	headers, multi := map[string]string{}, map[string][]string{}
	add := func(k, v string) {
		headers[k] = v
		multi[k] = append(multi[k], v)
	}
	if r.Host != "" {
		add("Host", r.Host)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			add(k, v)
		}
	}
	var query map[string]string
	var multiQuery map[string][]string
	if r.URL.RawQuery != "" {
		query, multiQuery = map[string]string{}, map[string][]string{}
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			k, v = queryUnescape(k), queryUnescape(v)
			query[k] = v
			multiQuery[k] = append(multiQuery[k], v)
		}
	}
	var pathParams map[string]string
	if len(params) > 0 {
		pathParams = params
	}
	ev := events.APIGatewayProxyRequest{
		Resource:                        resource,
		Path:                            r.URL.EscapedPath(),
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  pathParams,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:  Account,
			ResourceID: "local",
			Stage:      Stage,
			// No domain name: the api answers a relative Location
			// (/erasures/{id}), right for http://127.0.0.1:<port>, where an
			// absolute one would say https.
			RequestID:         requestID,
			ExtendedRequestID: requestID,
			Protocol:          r.Proto,
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  sourceIP(r.RemoteAddr),
				UserAgent: r.UserAgent(),
				UserArn:   Operator(r.Header.Get(OperatorHeader)),
			},
			ResourcePath: resource,
			// The local API has no stage in its URLs.
			Path:             r.URL.EscapedPath(),
			HTTPMethod:       r.Method,
			RequestTime:      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			APIID:            "local",
		},
	}
	if len(body) > 0 {
		// A REST API without binary media types: a typed body is binary.
		ev.Body, ev.IsBase64Encoded = eventBody(body, r.Header.Get("Content-Type") == "")
	}
	return ev
}

// eventBody is a request body as an API Gateway event carries it: as sent
// when the API passes it as text and it is UTF-8, else base64-encoded.
func eventBody(body []byte, text bool) (string, bool) {
	if text && utf8.Valid(body) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

// queryUnescape decodes a query key or value as API Gateway does; what is
// not valid percent-encoding is passed as sent.
func queryUnescape(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}

func sourceIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// errBadBase64 is a response body marked base64 that is not.
var errBadBase64 = errors.New("body is marked base64 but is not valid base64")

// WriteProxyResponse writes a Lambda proxy integration's answer as API
// Gateway does: the status, Headers and MultiValueHeaders merged (a header
// in both gets the multi values, then the single one if it is not among
// them), and the body, base64-decoded when IsBase64Encoded. A body marked
// base64 that is not is a malformed response: nothing is written and the
// caller answers 502.
func WriteProxyResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse, requestID string) error {
	return writeAnswer(w, answer{
		status: resp.StatusCode, headers: resp.Headers, multiValueHeaders: resp.MultiValueHeaders,
		body: resp.Body, base64: resp.IsBase64Encoded,
	}, "x-amzn-RequestId", requestID, true)
}

// answer is an integration's answer, in the fields both payload formats
// share (cookies only in 2.0).
type answer struct {
	status            int
	headers           map[string]string
	multiValueHeaders map[string][]string
	cookies           []string
	body              string
	base64            bool
}

// writeAnswer writes an integration's answer as API Gateway does: the
// status, MultiValueHeaders then each of Headers not already among them,
// cookies as Set-Cookie, the request id under idHeader, and the body,
// base64-decoded when so marked. Content-Type defaults to
// application/json (for an empty body too when typeEmpty). A body marked
// base64 that is not is errBadBase64, and nothing is written.
func writeAnswer(w http.ResponseWriter, a answer, idHeader, requestID string, typeEmpty bool) error {
	body := []byte(a.body)
	if a.base64 {
		b, err := base64.StdEncoding.DecodeString(a.body)
		if err != nil {
			return errBadBase64
		}
		body = b
	}
	h := w.Header()
	for k, vs := range a.multiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range a.headers {
		if !containsValue(h.Values(k), v) {
			h.Add(k, v)
		}
	}
	for _, c := range a.cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" && (typeEmpty || len(body) > 0) {
		h.Set("Content-Type", "application/json")
	}
	h.Set(idHeader, requestID)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(a.status)
	w.Write(body) // an error here is a client gone away: nothing to answer
	return nil
}

func containsValue(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
