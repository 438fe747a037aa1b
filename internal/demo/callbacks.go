package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RunCallbacks finishes, every interval of wall time, the async erasures
// that are due on the farm's clock, and makes the callbacks Lethe offered
// for them (POST callbackUrl, Authorization: Bearer callbackToken,
// {"status", "detail"}): a subsystem that calls back does not wait to be
// asked. A callback that gets no answer, or a 5xx, is made again at the
// next round; any other answer ends it. It returns when ctx ends.
func (f *Farm) RunCallbacks(ctx context.Context, interval time.Duration, client *http.Client) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.callbackRound(ctx, client)
		}
	}
}

// pendingCallback is one callback to make.
type pendingCallback struct {
	key, ticket, url, token string
	body                    []byte
}

func (f *Farm) callbackRound(ctx context.Context, client *http.Client) {
	now := f.clock.Now()
	var due []string
	_ = f.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(rootBucket).ForEachBucket(func(k []byte) error {
			due = append(due, string(k))
			return nil
		})
	})
	var calls []pendingCallback
	for _, k := range due {
		d := f.knobsOf(k)
		if f.anyDue(k, d, now) {
			_ = f.db.Batch(func(tx *bolt.Tx) error { return open(tx, k).settle(now, d) })
		}
		_ = f.db.View(func(tx *bolt.Tx) error {
			s := open(tx, k)
			cbs := s.root.Bucket(callbacksBucket)
			if cbs == nil {
				return nil
			}
			return cbs.ForEach(func(t, _ []byte) error {
				rec, err := s.ticket(string(t))
				if err != nil || rec == nil {
					return err
				}
				body, _ := json.Marshal(StatusBody{Status: rec.Status, Detail: rec.Detail})
				calls = append(calls, pendingCallback{key: k, ticket: string(t), url: rec.CallbackURL, token: rec.CallbackToken, body: body})
				return nil
			})
		})
	}
	for _, c := range calls {
		if !f.knobsOf(c.key).NoCallback && !f.call(ctx, client, c) {
			continue // no answer or a 5xx: the next round tries again
		}
		_ = f.db.Batch(func(tx *bolt.Tx) error {
			if cbs := open(tx, c.key).root.Bucket(callbacksBucket); cbs != nil {
				return cbs.Delete([]byte(c.ticket))
			}
			return nil
		})
	}
}

// call makes one callback; done is false when it should be made again.
func (f *Farm) call(ctx context.Context, client *http.Client, c pendingCallback) (done bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return true // an unusable URL is not made better by retrying
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 500
}
