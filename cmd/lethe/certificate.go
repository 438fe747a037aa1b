package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/lethe-erasure/lethe/internal/proof"
)

func init() {
	commands["certificate"] = command{summary: "get a completed erasure's signed certificate, or verify one offline", run: defaultOperator.certificate}
}

const certificateUsage = `usage:
  lethe certificate get [flags] REQUEST_ID > cert.jws
  lethe certificate verify [--jwks FILE|URL] [--subject ID] [flags] FILE

get prints the certificate of erasure of a completed request: a compact JWS
(ES256) signed with the region's key, naming the subject only by a salted
commitment. verify checks a certificate (FILE, or - for standard input)
against the region's public keys — --jwks FILE or URL, or else the region's
GET /keys, the region read from the certificate — prints its claims, and
with --subject tells whether the certificate is that person's.
Exit status: 0 verified (and the subject matches), 1 the signature does not
verify or the subject does not match, 2 a malformed certificate or usage.

` + operateFlags

func (o *operator) certificate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, "lethe certificate", certificateUsage, map[string]subcommand{
		"get": o.certificateGet,
		"verify": func(ctx context.Context, args []string, stdout io.Writer) error {
			return o.certificateVerify(ctx, args, stdin, stdout)
		},
	}, args, stdout, stderr)
}

func (o *operator) certificateGet(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lethe certificate get", flag.ContinueOnError)
	var f operateFlagSet
	f.register(fs)
	t, pos, err := o.operate(fs, &f, args, 1, false)
	if err != nil {
		return err
	}
	status, body, err := t.s.call(ctx, "certificate", t.to, http.MethodGet, "/erasures/"+pos[0]+"/certificate", nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return t.hint(refusal(t.to, http.MethodGet, "/erasures/"+pos[0]+"/certificate", status, body))
	}
	_, err = fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	return err
}

func (o *operator) certificateVerify(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("lethe certificate verify", flag.ContinueOnError)
	var f operateFlagSet
	var jwksFrom, subject string
	f.register(fs)
	fs.StringVar(&jwksFrom, "jwks", "", "the region's public keys: a JWK set `FILE` or URL")
	fs.StringVar(&subject, "subject", "", "check that the certificate is this subject `ID`'s")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := f.check(fs); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one certificate FILE (- for standard input)")
	}
	raw, err := readInput(pos[0], stdin)
	if err != nil {
		return err
	}
	jws := strings.TrimSpace(string(raw))
	region, err := unverifiedRegion(jws)
	if err != nil {
		return usagef("%s is not a certificate of erasure: %v", pos[0], err)
	}
	var keys []byte
	switch {
	case strings.HasPrefix(jwksFrom, "http://") || strings.HasPrefix(jwksFrom, "https://"):
		keys, err = fetchJWKS(ctx, jwksFrom)
	case jwksFrom != "":
		keys, err = os.ReadFile(jwksFrom)
		if err != nil {
			return usagef("--jwks: %v", err)
		}
	default:
		t, oerr := o.openRegion(&f.regionFlags, region)
		if oerr != nil {
			return oerr
		}
		var status int
		status, keys, err = t.s.call(ctx, "keys", t.to, http.MethodGet, "/keys", nil)
		if err == nil && status != http.StatusOK {
			err = t.hint(refusal(t.to, http.MethodGet, "/keys", status, keys))
		}
	}
	if err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(keys, &set); err != nil || len(set.Keys) == 0 {
		return fmt.Errorf("the key set is not a JWK set with keys (%v)", err)
	}
	claims, kid, err := proof.Verify(jws, set)
	switch {
	case errors.Is(err, proof.ErrMalformed):
		return usagef("%s is not a certificate of erasure: %v", pos[0], err)
	case err != nil:
		return fmt.Errorf("NOT VERIFIED: %v", err)
	}
	pretty, _ := json.MarshalIndent(claims, "", "  ")
	fmt.Fprintf(stdout, "verified: certificate of erasure %s, region %s, signed by key %s\n%s\n", claims.RequestID, claims.Region, kid, pretty)
	if subject != "" {
		if !claims.SubjectCommitment.Matches(subject) {
			return errors.New("the certificate is NOT about the subject given")
		}
		fmt.Fprintln(stdout, "subject: the certificate is about the subject given")
	}
	return nil
}

// readInput reads a file, or standard input for "-".
func readInput(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(stdin, 1<<20))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return b, nil
}

// unverifiedRegion reads the region a certificate claims, before its
// signature is checked, to know whose keys to ask for.
func unverifiedRegion(jws string) (string, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("a compact JWS has three parts, this has %d", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("its payload is not base64url")
	}
	var c struct{ Region string }
	if err := json.Unmarshal(payload, &c); err != nil || c.Region == "" {
		return "", errors.New("its payload names no region")
	}
	return c.Region, nil
}

func fetchJWKS(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, usagef("--jwks: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--jwks: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("--jwks: GET %s answered %d", url, resp.StatusCode)
	}
	return body, nil
}
