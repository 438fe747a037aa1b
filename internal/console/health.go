package console

import (
	"net/http"

	"github.com/lethe-erasure/lethe/internal/config"
)

// MailShown is how many messages the health page lists.
const MailShown = 30

// healthBody is the health page: each region's counters and alarms, and
// the last messages the topics sent.
type healthBody struct {
	// APIs are the regions' and the edge's API URLs the console reads.
	APIs    []config.RegionEndpoint
	Regions []regionHealth
	Mail    []Message
	HasMail bool
}

type regionHealth struct {
	Name string
	HealthView
}

func (c *Console) health(w http.ResponseWriter, r *http.Request) {
	b := healthBody{APIs: append(c.o.Regions[:len(c.o.Regions):len(c.o.Regions)], c.o.Edge)}
	if c.o.Health != nil {
		for _, reg := range c.o.Regions {
			b.Regions = append(b.Regions, regionHealth{Name: reg.Name, HealthView: c.o.Health.Region(reg.Name)})
		}
	}
	if c.o.Mail != nil {
		b.HasMail = true
		b.Mail = c.o.Mail.Recent(MailShown)
	}
	c.render(w, http.StatusOK, "health", "Health", "health", true, b)
}
