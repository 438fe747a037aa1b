package demo

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/httpjson"
)

// MaxFaultsBody bounds the body of a faults change.
const MaxFaultsBody = 16 << 10

// FaultsView is what the faults route answers: the knobs a demo subsystem
// runs with from now on.
type FaultsView struct {
	Region    string               `json:"region"`
	Subsystem string               `json:"subsystem"`
	Faults    config.DemoSubsystem `json:"faults"`
}

// FaultsHandler serves a demo subsystem's knobs while it runs: GET reads
// them; PUT {"faults": "<knobs>"} sets the knobs named, in --fault's
// syntax (e.g. "outage", "reject", "errorRate:0.3,latency:200ms"), on the
// current ones; "" or "clear" clears them. So outages can start and end
// while a request runs.
func (f *Farm) FaultsHandler(region, subsystem string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut:
			err = f.putFaults(r, region, subsystem)
		default:
			err = httpjson.MethodNotAllowed("method_not_allowed", "a demo subsystem's faults are read with GET and set with PUT", "GET, PUT")
		}
		view := FaultsView{Region: region, Subsystem: subsystem, Faults: f.Faults(region, subsystem)}
		view.Faults.Subjects = nil
		write(w, httpjson.Respond(http.StatusOK, view, err, classify))
	})
}

func (f *Farm) putFaults(r *http.Request, region, subsystem string) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &httpjson.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
			Message: "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxFaultsBody+1))
	if err != nil {
		return httpjson.BadRequest("invalid_body", "", "the body could not be read")
	}
	if len(body) > MaxFaultsBody {
		return &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "the body is larger than 16 KiB"}
	}
	var in struct {
		Faults *string `json:"faults"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return httpjson.BadRequest("invalid_json", "", `send {"faults": "<knobs>"}, e.g. {"faults": "outage"}; "" clears: `+err.Error())
	}
	if in.Faults == nil {
		return httpjson.BadRequest("required", "faults", `faults is required: e.g. "outage", "reject", "errorRate:0.3,latency:200ms", or "" to clear`)
	}
	knobs := strings.TrimSpace(*in.Faults)
	if knobs == "" {
		knobs = "clear"
	}
	_, d, err := ParseFault(region+"/"+subsystem+"="+knobs, func(string, string) config.DemoSubsystem { return f.Faults(region, subsystem) })
	if err != nil {
		var fe *FaultError
		msg := err.Error()
		if errors.As(err, &fe) {
			msg = fe.Reason
			if fe.Item != "" {
				msg = fe.Item + ": " + fe.Reason
			}
		}
		return httpjson.BadRequest("invalid_faults", "faults", msg)
	}
	f.SetFaults(region, subsystem, d)
	return nil
}
