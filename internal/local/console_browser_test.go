package local

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/console/graph"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/webhook"
	"github.com/lethe-erasure/lethe/statemachines"
)

// The console in a real browser: Chromium driven by chromedp against an
// in-process lethe local. make test installs Debian's chromium when it is
// missing (scripts/chromium.sh) and names it in LETHE_CHROMIUM.

// chromium starts a headless Chromium at width x height, or skips the
// test saying why it cannot.
func chromium(t *testing.T, width, height int) context.Context {
	t.Helper()
	path := os.Getenv("LETHE_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Skip("browser tests skipped: no Chromium (make test installs Debian's chromium; or set LETHE_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(width, height), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("browser tests skipped: Chromium at %s does not start: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// browserSubjects are the ids the browser test files erasures and
// webhooks for: no page may show one.
var browserSubjects = []string{"alice", "bob", "carol", "9001", "john@example.com"}

// visit opens path, checks the page names no subject, and writes a
// screenshot of the whole page under dir whose width must be the
// window's.
func visit(t *testing.T, ctx context.Context, base, path, dir, name string, width int) {
	t.Helper()
	must(t, chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main"))))
	scan(t, ctx, path)
	shot(t, ctx, dir, name, width)
}

// scan fails when the page's HTML names a subject.
func scan(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	must(t, err)
	for _, s := range browserSubjects {
		if strings.Contains(html, s) {
			t.Errorf("%s names the subject %q", what, s)
		}
	}
}

// shot writes a full-page PNG screenshot and checks its size.
func shot(t *testing.T, ctx context.Context, dir, name string, width int) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(t, err)
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if cfg.Width != width || cfg.Height < 200 {
		t.Errorf("screenshot %s is %dx%d, want %d wide and a page tall", name, cfg.Width, cfg.Height, width)
	}
	must(t, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// count is how many elements match a CSS selector.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	must(t, err)
	return n
}

// TestConsoleInABrowser walks the console as an operator: the list and
// its filters and pages, a failed request retried from its page until it
// completes (the page refreshing itself), the graph of an execution
// coloured by what happened and a state's input on a click, the edge page
// with the demo tenants and a quarantined delivery released, and the
// health page; every page at 1280 px and the list and a request at a
// phone's width, each screenshotted, none naming a subject.
func TestConsoleInABrowser(t *testing.T) {
	ctx := chromium(t, 1280, 900)
	shots := t.TempDir()
	if dir := os.Getenv("LETHE_CONSOLE_SHOTS"); dir != "" {
		shots = dir // to look at them after the test
	}
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"eu/projects=reject"}); err != nil {
		t.Fatal(err)
	}
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0),
		Log: discard(), Operator: "dpo", WebhookSecrets: testSecrets})
	must(t, err)
	t.Cleanup(func() { rt.Close() })
	base := rt.EdgeURL()
	failedID := file(t, rt, "eu", "alice")
	if r := wait(t, rt, failedID); r.Status != erasure.StatusFailed {
		t.Fatalf("eu request %s, want failed", r.Status)
	}
	var done []string
	for _, s := range []string{"bob", "carol"} {
		id := file(t, rt, "us", s)
		if r := wait(t, rt, id); r.Status != erasure.StatusCompleted {
			t.Fatalf("us request %s, want completed", r.Status)
		}
		done = append(done, id)
	}

	t.Run("list", func(t *testing.T) {
		visit(t, ctx, base, "/", shots, "requests", 1280)
		if n := count(t, ctx, "tr[data-request]"); n != 3 {
			t.Errorf("the list shows %d requests, want 3", n)
		}
		// Filter by status with the form, as a user does.
		must(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`form.filters select[name=status]`), "failed"),
			chromedp.Click(chromedp.CSS(`form.filters button`)),
			chromedp.WaitNotPresent(chromedp.CSS(`tr[data-request="`+done[0]+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-request="`+failedID+`"]`))))
		if n := count(t, ctx, "tr[data-request]"); n != 1 {
			t.Errorf("status=failed shows %d requests, want 1", n)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if must(t, err); !strings.Contains(loc, "status=failed") {
			t.Errorf("the filter's URL %s", loc)
		}
		// One request per region per page: the next page holds the rest.
		must(t, chromedp.Do(ctx, chromedp.Navigate(base+"/?limit=1&region=us"), chromedp.WaitVisible(chromedp.CSS("tr[data-request]"))))
		first, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("tr[data-request]"), "data-request"))
		must(t, err)
		must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[rel=next]`)), chromedp.WaitNotPresent(chromedp.CSS(`tr[data-request="`+first.Value+`"]`))))
		second, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("tr[data-request]"), "data-request"))
		must(t, err)
		if first.Value == second.Value || !strings.Contains(strings.Join(done, " "), first.Value) || !strings.Contains(strings.Join(done, " "), second.Value) {
			t.Errorf("pages showed %s then %s, want the two us requests", first.Value, second.Value)
		}
		if n := count(t, ctx, "a[rel=next]"); n != 0 {
			t.Error("the last page links to a next one")
		}
	})

	t.Run("retry", func(t *testing.T) {
		visit(t, ctx, base, "/requests/"+failedID, shots, "request-failed", 1280)
		cls, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`tr[data-subsystem=projects] .chip`), "class"))
		must(t, err)
		if !strings.Contains(cls.Value, "s-failed") {
			t.Fatalf("projects' chip is %q, want failed", cls.Value)
		}
		rt.Farm().SetFaults("eu", "projects", config.DemoSubsystem{})
		must(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`form[action$="/retry"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`button.primary`))))
		scan(t, ctx, "the retry's confirmation")
		shot(t, ctx, shots, "confirm", 1280)
		must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button.primary`)), chromedp.WaitVisible(chromedp.CSS(`p.ok, p.error`))))
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if must(t, err); !strings.Contains(text, "HTTP 202") {
			t.Errorf("the retry's answer: %s", text)
		}
		shot(t, ctx, shots, "answer", 1280)
		// Back on the request's page, which refreshes itself until the
		// request completes.
		must(t, chromedp.Do(ctx, chromedp.Navigate(base+"/requests/"+failedID), chromedp.WaitVisible(chromedp.CSS(`h1 .s-completed`)),
			chromedp.WaitVisible(chromedp.CSS(`p.ok strong`))))
		scan(t, ctx, "the completed request's page")
		shot(t, ctx, shots, "request-completed", 1280)
	})

	t.Run("graph", func(t *testing.T) {
		reg := mustRegion(t, rt, "eu")
		def, err := statemachines.Definition("erasure")
		must(t, err)
		g, err := graph.Build([]byte(def))
		must(t, err)
		// The first run failed in projects: its SyncDeletion was caught,
		// the request failed.
		visit(t, ctx, base, "/executions/"+ExecutionArn(reg.Engine, reg.Wired.Main, failedID), shots, "execution-failed", 1280)
		if n := count(t, ctx, "[data-graph] [data-state]"); n != len(g.States()) {
			t.Errorf("the graph has %d states, the file %d", n, len(g.States()))
		}
		for _, name := range g.States() {
			if count(t, ctx, fmt.Sprintf(`[data-graph] [data-state=%q]`, name)) != 1 {
				t.Errorf("state %s is not drawn once", name)
			}
		}
		colours := func(want map[string]string) {
			t.Helper()
			for name, st := range want {
				cls, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(fmt.Sprintf(`[data-graph] [data-state=%q]`, name)), "class"))
				must(t, err)
				if !strings.Contains(" "+cls.Value+" ", " st-"+st+" ") {
					t.Errorf("state %s has class %q, want st-%s", name, cls.Value, st)
				}
			}
		}
		colours(map[string]string{"LoadSubsystems": "succeeded", "SyncDeletion": "caught", "SubsystemFailed": "succeeded", "AsyncDeletion": "succeeded",
			"NotifyFailure": "succeeded", "ErasureFailed": "failed", "IssueCertificate": "not_reached", "ErasureCompleted": "not_reached"})
		// The retry's run completed.
		visit(t, ctx, base, "/executions/"+ExecutionArn(reg.Engine, reg.Wired.Main, failedID+"-r1"), shots, "execution-completed", 1280)
		colours(map[string]string{"LoadSubsystems": "succeeded", "ChooseMode": "succeeded", "SyncDeletion": "succeeded", "RecordOutcome": "succeeded",
			"IssueCertificate": "succeeded", "ErasureCompleted": "succeeded", "NoResults": "not_reached", "NotifyFailure": "not_reached", "ErasureFailed": "not_reached"})
		// A click on a state shows its input.
		must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-graph] [data-state="RecordOutcome"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#state [data-state-detail="RecordOutcome"] pre[data-io=input]`))))
		input, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#state pre[data-io=input]`)))
		if must(t, err); !strings.Contains(input, failedID) {
			t.Errorf("RecordOutcome's input does not show the request id:\n%s", input)
		}
		scan(t, ctx, "the state's panel")
		shot(t, ctx, shots, "execution-state", 1280)
		// And from the keyboard: a state takes the focus, Enter opens it.
		must(t, chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`[data-graph] [data-state="LoadSubsystems"]`)), chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.CSS(`#state [data-state-detail="LoadSubsystems"]`))))
		// The child executions link back to their parent.
		child := ExecutionArn(reg.Engine, reg.Wired.Machines["sync-deletion"], failedID+"-r1-projects")
		visit(t, ctx, base, "/executions/"+child, shots, "execution-child", 1280)
		if count(t, ctx, `a[href="/executions/`+ExecutionArn(reg.Engine, reg.Wired.Main, failedID+"-r1")+`"]`) != 1 {
			t.Error("the child execution does not link to its parent")
		}
	})

	t.Run("edge", func(t *testing.T) {
		const shop = "new-shop.myshopify.com"
		h, body := shopifyRedact(shop, "9001", "d-console", testSecrets[webhook.Shopify])
		resp, answer := send(t, http.DefaultClient, "POST", base+"/webhooks/shopify", h, body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("an unknown shop's webhook = %d %s", resp.StatusCode, answer)
		}
		visit(t, ctx, base, "/edge", shots, "edge", 1280)
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("table.tenants")))
		must(t, err)
		for _, tenant := range []string{"eu-shop.myshopify.com", "us-shop.myshopify.com", "eu-help", "us-help"} {
			if !strings.Contains(text, tenant) {
				t.Errorf("the tenants table lacks %s:\n%s", tenant, text)
			}
		}
		if n := count(t, ctx, "tr[data-held]"); n != 1 {
			t.Fatalf("the quarantine shows %d deliveries, want 1", n)
		}
		for _, put := range []struct{ url, body string }{{mustRegion(t, rt, "eu").URL + "/tenants/" + shop, ""}, {base + "/tenants/" + shop, `{"region":"eu"}`}} {
			if resp, b := do(t, "PUT", put.url, http.Header{"Content-Type": {"application/json"}}, put.body); resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT %s = %d %s", put.url, resp.StatusCode, b)
			}
		}
		must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-held] button`)), chromedp.WaitVisible(chromedp.CSS(`button.primary`)),
			chromedp.Click(chromedp.CSS(`button.primary`)), chromedp.WaitVisible(chromedp.CSS(`p.ok, p.error`))))
		text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if must(t, err); !strings.Contains(text, "HTTP 200") || !strings.Contains(text, `"released"`) {
			t.Errorf("the release's answer:\n%s", text)
		}
		scan(t, ctx, "the release's answer")
		visit(t, ctx, base, "/edge", shots, "edge-released", 1280)
		if n := count(t, ctx, "tr[data-held]"); n != 0 {
			t.Errorf("the quarantine still shows %d deliveries", n)
		}
		visit(t, ctx, base, "/health", shots, "health", 1280)
		if n := count(t, ctx, "table.alarms tr"); n < 4 {
			t.Errorf("the health page shows %d alarm rows", n)
		}
		// The page refreshes itself: a request filed now is counted
		// without reloading it.
		received := `document.querySelector('[data-region=us] [data-counter=ErasuresReceived] .num').textContent`
		before, err := chromedp.Run(ctx, chromedp.Evaluate[string](received))
		must(t, err)
		n, _ := strconv.Atoi(before)
		file(t, rt, "us", "alice")
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](received+` === "`+strconv.Itoa(n+1)+`"`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Errorf("the health page did not refresh itself to count the new request (%s before): %v", before, err)
		}
	})

	t.Run("phone", func(t *testing.T) {
		phone := chromium(t, 1280, 900)
		must(t, chromedp.Do(phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)))
		for _, p := range []struct{ path, name string }{{"/", "phone-requests"}, {"/requests/" + failedID, "phone-request"}} {
			visit(t, phone, base, p.path, shots, p.name, 390)
			over, err := chromedp.Run(phone, chromedp.Evaluate[bool]("document.documentElement.scrollWidth > window.innerWidth + 1"))
			if must(t, err); over {
				t.Errorf("%s scrolls sideways at a phone's width", p.path)
			}
		}
	})
	t.Logf("screenshots in %s", shots)
}

// TestConsoleRefreshKeepsWhatIsTyped: an open request's page refreshes
// itself (an extension made elsewhere appears), but not while a form on it
// holds something the reader typed.
func TestConsoleRefreshKeepsWhatIsTyped(t *testing.T) {
	ctx := chromium(t, 1280, 900)
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"eu/orders=neverFinish"}); err != nil {
		t.Fatal(err)
	}
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Speed: 1, NoSync: true, Log: discard(), Operator: "dpo"})
	must(t, err)
	t.Cleanup(func() { rt.Close() })
	id := file(t, rt, "eu", "alice")
	reg := mustRegion(t, rt, "eu")
	extend := func(reason string) {
		t.Helper()
		resp, body := do(t, "POST", reg.URL+"/erasures/"+id+"/extension", operatorJSON, `{"months":1,"reason":"`+reason+`"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("extension = %d %s", resp.StatusCode, body)
		}
	}
	must(t, chromedp.Do(ctx, chromedp.Navigate(rt.EdgeURL()+"/requests/"+id), chromedp.WaitVisible(chromedp.CSS(`main[data-live]`))))
	extend("first")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.body.textContent.includes("first")`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the running request's page did not refresh to show the extension: %v", err)
	}
	// A reason typed, and the focus elsewhere: the page waits.
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`form[action$="/extend"] textarea`), "half-written"),
		chromedp.Focus(chromedp.CSS(`.crumbs a`))))
	extend("second")
	must(t, chromedp.Do(ctx, chromedp.Sleep(5*time.Second)))
	typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`form[action$="/extend"] textarea`)))
	must(t, err)
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.textContent.includes("second")`))
	must(t, err)
	if typed != "half-written" || shown {
		t.Errorf("after a refresh's time the reason reads %q and the new extension is shown: %v; want the typed reason kept, the page not refreshed", typed, shown)
	}
}
