package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/httpjson"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/strictjson"
)

const (
	headerIdempotencyKey = "Idempotency-Key"
	headerContentType    = "Content-Type"
)

var (
	tenantRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	// fieldNameRE decides whether an unknown field's name may be echoed:
	// a JSON key could itself be someone's e-mail address.
	fieldNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// intakeBody is the JSON body of POST /erasures. Pointers tell a missing or
// null field from an empty one.
type intakeBody struct {
	SubjectID *string `json:"subjectId"`
	TenantID  *string `json:"tenantId"`
}

// postErasure is POST /erasures {"subjectId", "tenantId"?}.
func (h *Handler) postErasure(ctx context.Context, ev events.APIGatewayProxyRequest, _ string) (reply, string, error) {
	key, err := idempotencyKey(ev)
	if err != nil {
		return reply{}, "", err
	}
	body, err := jsonBody(ev)
	if err != nil {
		return reply{}, "", err
	}
	in, err := decodeIntake(body)
	if err != nil {
		return reply{}, "", err
	}
	if in.SubjectID == nil {
		return reply{}, "", httpjson.BadRequest(CodeRequired, "subjectId", "subjectId is required")
	}
	if err := erasure.ValidateSubjectID(*in.SubjectID); err != nil {
		return reply{}, "", httpjson.BadRequest(CodeInvalidSubjectID, "subjectId", "subjectId "+err.Error())
	}
	tenant := ""
	if in.TenantID != nil {
		if !tenantRE.MatchString(*in.TenantID) {
			return reply{}, "", httpjson.BadRequest(CodeInvalidTenantID, "tenantId",
				fmt.Sprintf("tenantId must be 1-%d characters of A-Z a-z 0-9 . _ : -", MaxTenantIDBytes))
		}
		tenant = *in.TenantID
	}
	return h.intake(ctx, ev, *in.SubjectID, tenant, key)
}

// deleteUser is DELETE /api/user/{id}: the original design's endpoint, a
// POST /erasures with subjectId = id. It takes no body; one is refused
// rather than ignored, so a caller never believes a tenantId it sent there
// was recorded.
func (h *Handler) deleteUser(ctx context.Context, ev events.APIGatewayProxyRequest, subject string) (reply, string, error) {
	key, err := idempotencyKey(ev)
	if err != nil {
		return reply{}, "", err
	}
	if err := erasure.ValidateSubjectID(subject); err != nil {
		return reply{}, "", httpjson.BadRequest(CodeInvalidSubjectID, "id", "the id in the path "+err.Error())
	}
	if strings.TrimSpace(ev.Body) != "" {
		return reply{}, "", httpjson.BadRequest(CodeInvalidBody, "", "DELETE /api/user/{id} takes no body; use POST /erasures to give a tenantId")
	}
	return h.intake(ctx, ev, subject, "", key)
}

// intake records a new request, or finds the subject's open one (or the
// one this Idempotency-Key made), in one conditional write.
func (h *Handler) intake(ctx context.Context, ev events.APIGatewayProxyRequest, subject, tenant, key string) (reply, string, error) {
	id, err := h.newID(h.region.Name)
	if err != nil {
		return reply{}, subject, err
	}
	received := h.now().UTC().Truncate(time.Millisecond)
	subs := make([]erasure.SubsystemResult, len(h.region.Subsystems))
	for i, s := range h.region.Subsystems {
		subs[i] = erasure.SubsystemResult{Name: s.Name, Mode: string(s.Mode), Status: erasure.SubsystemPending}
	}
	req := erasure.Request{
		ID:         id,
		TenantID:   tenant,
		Source:     erasure.SourceAPI,
		Status:     erasure.StatusPending,
		ReceivedAt: received,
		Deadline:   h.deadline.After(received),
		Subsystems: subs,
	}
	if err := req.SetSubject(h.subjects, subject); err != nil {
		return reply{}, subject, err
	}
	stored, created, err := h.store.Create(ctx, req, key)
	if err != nil {
		if errors.Is(err, erasure.ErrIdempotencyKeyReused) {
			return reply{}, subject, err
		}
		return reply{}, subject, &storeError{op: "create", err: err}
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
		metrics.Record(ctx, h.metrics, metrics.ErasuresReceived, metrics.Dims{Region: h.region.Name, Source: stored.Source}, 1)
	}
	u := statusURL(ev, stored.ID)
	return reply{status: status, body: newIntakeView(stored, u), location: u, requestID: stored.ID}, subject, nil
}

// statusURL is where the caller polls the request: absolute when API
// Gateway said which domain it was called on, else a path (local runtime).
// The base path is what requestContext.path has in front of the resource
// path (a custom domain's base path mapping, or the stage); when that says
// nothing, an execute-api domain gets /<stage>.
func statusURL(ev events.APIGatewayProxyRequest, id string) string {
	p := "/erasures/" + id
	rc := ev.RequestContext
	if rc.DomainName == "" {
		return p
	}
	prefix := ""
	if ev.Path != "" && strings.HasSuffix(rc.Path, ev.Path) {
		prefix = strings.TrimSuffix(rc.Path, ev.Path)
	}
	if prefix == "" && rc.Stage != "" && rc.Stage != "$default" && strings.HasSuffix(rc.DomainName, ".amazonaws.com") {
		prefix = "/" + url.PathEscape(rc.Stage)
	}
	return "https://" + rc.DomainName + prefix + p
}

// headerValues returns every value of a header, matched without regard to
// case. API Gateway fills multiValueHeaders and headers; an adapter may
// fill only headers.
func headerValues(ev events.APIGatewayProxyRequest, name string) []string {
	var vals []string
	for k, v := range ev.MultiValueHeaders {
		if strings.EqualFold(k, name) {
			vals = append(vals, v...)
		}
	}
	if vals != nil {
		return vals
	}
	for k, v := range ev.Headers {
		if strings.EqualFold(k, name) {
			vals = append(vals, v)
		}
	}
	return vals
}

// idempotencyKey returns the Idempotency-Key header, "" when absent: 1-255
// printable ASCII characters, given once.
func idempotencyKey(ev events.APIGatewayProxyRequest) (string, error) {
	vals := headerValues(ev, headerIdempotencyKey)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", httpjson.BadRequest(CodeInvalidIdempotencyKey, headerIdempotencyKey, "Idempotency-Key must be given once")
	}
	k := vals[0]
	if len(k) < 1 || len(k) > MaxIdempotencyKeyBytes {
		return "", httpjson.BadRequest(CodeInvalidIdempotencyKey, headerIdempotencyKey,
			fmt.Sprintf("Idempotency-Key must be 1-%d printable ASCII characters", MaxIdempotencyKeyBytes))
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", httpjson.BadRequest(CodeInvalidIdempotencyKey, headerIdempotencyKey,
				fmt.Sprintf("Idempotency-Key must be 1-%d printable ASCII characters", MaxIdempotencyKeyBytes))
		}
	}
	return k, nil
}

// checkContentType accepts application/json, with parameters, and a
// charset only if it is UTF-8 (RFC 8259 §8.1).
func checkContentType(ev events.APIGatewayProxyRequest) error {
	bad := &httpjson.Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Field: headerContentType,
		Message: "Content-Type must be application/json"}
	vals := headerValues(ev, headerContentType)
	if len(vals) != 1 {
		return bad
	}
	mt, params, err := mime.ParseMediaType(vals[0])
	if err != nil || mt != "application/json" {
		return bad
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		bad.Message = "Content-Type charset must be utf-8"
		return bad
	}
	return nil
}

var errTooLarge = &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
	Message: fmt.Sprintf("body must be at most %d bytes", MaxBodyBytes)}

// jsonBody is the body of a request that must carry JSON: the content
// type checked, then read as readBody does.
func jsonBody(ev events.APIGatewayProxyRequest) ([]byte, error) {
	if err := checkContentType(ev); err != nil {
		return nil, err
	}
	return readBody(ev)
}

// readBody returns the body, base64-decoded when API Gateway encoded it,
// refusing more than MaxBodyBytes before any decoding work.
func readBody(ev events.APIGatewayProxyRequest) ([]byte, error) {
	if !ev.IsBase64Encoded {
		if len(ev.Body) > MaxBodyBytes {
			return nil, errTooLarge
		}
		return []byte(ev.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(ev.Body)) > MaxBodyBytes+2 {
		return nil, errTooLarge
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		return nil, httpjson.BadRequest(CodeInvalidBody, "", "body is marked base64 but is not valid base64")
	}
	if len(b) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return b, nil
}

// decodeIntake decodes the body of POST /erasures.
func decodeIntake(body []byte) (intakeBody, error) {
	var in intakeBody
	err := decodeFields(body, map[string]any{"subjectId": &in.SubjectID, "tenantId": &in.TenantID}, "subjectId, tenantId",
		"send a JSON object {\"subjectId\": ...}")
	return in, err
}

// decodeFields decodes exactly one JSON object whose keys are those of
// fields, each at most once, into the pointers fields holds (null counts as
// absent). It walks the tokens itself because encoding/json matches keys
// without regard to case and keeps the last of duplicates:
// {"subjectId":"a","SUBJECTID":"b"} must not mean "b" here and "a" to a
// proxy that checked the body. allowed lists the keys for error messages;
// emptyHint says what to send when the body is empty.
func decodeFields(body []byte, fields map[string]any, allowed, emptyHint string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return httpjson.BadRequest(CodeInvalidJSON, "", "body is empty; "+emptyHint)
	}
	if !utf8.Valid(body) {
		// encoding/json would turn bad bytes into U+FFFD: a subject id
		// that is not the one the caller meant.
		return httpjson.BadRequest(CodeInvalidJSON, "", "body must be UTF-8 (RFC 8259 §8.1)")
	}
	notObject := httpjson.BadRequest(CodeInvalidJSON, "", "body must be a JSON object")
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return notObject
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		key, _ := tok.(string)
		dst, ok := fields[key]
		if !ok {
			if !fieldNameRE.MatchString(key) {
				return httpjson.BadRequest(CodeUnknownField, "", "body has an unknown field; allowed: "+allowed)
			}
			return httpjson.BadRequest(CodeUnknownField, key, "unknown field "+key+"; allowed: "+allowed)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonError(err)
		}
		if raw[0] == 'n' { // null: as if absent
			continue
		}
		if seen[key] {
			return httpjson.BadRequest(CodeDuplicateField, key, key+" is given twice")
		}
		seen[key] = true
		if path, lone := strictjson.LoneSurrogate(raw); lone {
			// Likewise for an unpaired surrogate escape, which encoding/json
			// would decode to U+FFFD too.
			field := strictjson.Join(key, path)
			return httpjson.BadRequest(CodeInvalidJSON, field, field+" holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff alone), which is no character")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return httpjson.BadRequest(CodeInvalidType, key, key+" must be "+typeName(dst))
			}
			return jsonError(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return httpjson.BadRequest(CodeInvalidJSON, "", "body must hold exactly one JSON object")
	}
	return nil
}

// typeName says what JSON a decoding destination takes.
func typeName(dst any) string {
	switch dst.(type) {
	case **string:
		return "a string"
	case **int:
		return "a whole number"
	case *[]string:
		return "an array of strings"
	}
	return "of another type"
}

// jsonError turns a decoding error into an answer that never echoes a
// value.
func jsonError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return httpjson.BadRequest(CodeInvalidJSON, "", fmt.Sprintf("body is not valid JSON (at byte %d)", syn.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return httpjson.BadRequest(CodeInvalidJSON, "", "body is not valid JSON (truncated)")
	}
	return httpjson.BadRequest(CodeInvalidJSON, "", "body is not valid JSON")
}
