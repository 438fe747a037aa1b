package edge

import (
	"context"
	"net/http"

	"github.com/lethe-erasure/lethe/internal/config"
)

// Call sends one request to an IAM-authorised route of a Lethe API, a
// region's or the edge's own, and returns the first answer not worth another
// attempt: its status and at most 64 KiB of its body (*RegionUnavailable
// when the retries ran out, *RegionNotDeployed without an apiUrl). to.Name
// names the API in errors and to.AWSRegion is the SigV4 region. The operator
// CLI (lethe tenants, lethe quarantine) calls the APIs through it, so that
// it signs and retries exactly as the edge does. A client built with nil
// credentials sends the request unsigned: a local API on 127.0.0.1.
func (c *RegionalClient) Call(ctx context.Context, to config.RegionEndpoint, method, escapedPath string, header http.Header, body []byte) (int, []byte, error) {
	if to.APIURL == "" {
		return 0, nil, &RegionNotDeployed{Region: to.Name}
	}
	a, err := callRegion(ctx, c.client, c.policy, c.sleep, to.Name, outgoing{
		method: method, url: regionURL(to.APIURL, escapedPath), header: header, body: body, sign: c.sign(to.AWSRegion),
	})
	return a.status, a.body, err
}
