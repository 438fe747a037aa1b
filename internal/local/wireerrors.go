package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Go's HTTP server answers a request it cannot parse (a path with a bad
// percent-escape, a control byte in a header, headers too large) itself,
// before any handler runs, in text/plain. The deployed REST API answers
// those in Lethe's error shape (its gateway responses), so lethe local
// rewrites these few canned answers on their way out: jsonErrorsListener
// wraps each accepted connection, and a write that is exactly such an
// answer goes out as {"error": {"code", "message", "field"}}.

// goCannedHeaders is what follows the status line of Go's own error answers.
const goCannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

type jsonErrorsListener struct{ net.Listener }

func (l jsonErrorsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return jsonErrorsConn{c}, nil
}

type jsonErrorsConn struct{ net.Conn }

func (c jsonErrorsConn) Write(p []byte) (int, error) {
	if rewritten, ok := jsonCanned(p); ok {
		if _, err := c.Conn.Write(rewritten); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// jsonCanned rewrites one of Go's canned error answers (status line, the
// two headers above, the status text as body) as Lethe's JSON error, or
// reports false for anything else.
func jsonCanned(p []byte) ([]byte, bool) {
	if !bytes.HasPrefix(p, []byte("HTTP/1.")) {
		return nil, false
	}
	line, rest, ok := bytes.Cut(p, []byte(goCannedHeaders[:2]))
	if !ok || !bytes.HasPrefix(rest, []byte(goCannedHeaders[2:])) {
		return nil, false
	}
	body := string(rest[len(goCannedHeaders)-2:])
	proto, statusText, _ := strings.Cut(string(line), " ")
	code, _, _ := strings.Cut(statusText, " ")
	status, err := strconv.Atoi(code)
	if err != nil || status < 400 || status > 599 || !strings.HasPrefix(body, statusText) {
		return nil, false
	}
	msg, _ := json.Marshal(body)
	// The code is the status text as API Gateway names its response types:
	// BAD_REQUEST, REQUEST_HEADER_FIELDS_TOO_LARGE.
	name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(strings.TrimPrefix(statusText, code)), " ", "_"))
	b := fmt.Sprintf(`{"error":{"code":%q,"message":%s,"field":""}}`, name, msg)
	return []byte(fmt.Sprintf("%s %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		proto, statusText, len(b), b)), true
}
