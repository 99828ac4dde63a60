package cmd_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// nginxConf is the configuration of docs/gateways.md, with paths in a
// temporary directory.
var nginxConf = template.Must(template.New("nginx.conf").Parse(`
{{if .Root}}user root;{{end}}
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 64; }
http {
    access_log {{.Dir}}/access.log;
    client_body_temp_path {{.Dir}}/body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;

    upstream apikey { server {{.Apikey}}; keepalive 8; }

    server {
        listen {{.Listen}};

        location / {
            auth_request /_apikey;
            auth_request_set $apikey_company $upstream_http_x_company_id;
            auth_request_set $apikey_key $upstream_http_x_apikey_id;
            auth_request_set $apikey_status $upstream_status;
            auth_request_set $apikey_retry_after $upstream_http_retry_after;
            error_page 500 = @apikey_error;
            proxy_set_header X-Company-Id $apikey_company;
            proxy_set_header X-Apikey-Id $apikey_key;
            proxy_set_header X-Api-Key "";
            proxy_set_header Authorization "";
            proxy_pass http://{{.Upstream}};
        }

        location = /_apikey {
            internal;
            proxy_pass http://apikey/v1/auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
        }

        location @apikey_error {
            default_type application/json;
            if ($apikey_status = 429) {
                add_header Retry-After $apikey_retry_after always;
                return 429 '{"error":"rate_limited","reason":"rate_limited"}\n';
            }
            return 500;
        }
    }
}
`))

// TestNginxAuthRequest runs curl -> nginx (auth_request) -> apikey serve, with
// an upstream that records what reaches it. CI installs nginx; elsewhere the
// test is skipped when nginx or curl is missing. nginx is serve's trusted
// proxy, and curl connects from several loopback addresses (127.0.0.2, ...),
// so that a key's allowlist is checked against the client's address that
// nginx forwards.
func TestNginxAuthRequest(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	w := newKeyWorld(t)
	acme := w.mustIssue("create", "--company", "Acme", "--create-company", "--name", "billing")
	globex := w.mustIssue("create", "--company", "Globex", "--create-company", "--name", "sync")
	office := w.mustIssue("create", "--company", "Acme", "--name", "office", "--allow-ip", "127.0.0.2")
	limited := w.mustIssue("create", "--company", "Acme", "--name", "limited", "--rate-limit", "1/h")
	// nginx connects to serve from 127.0.0.1.
	w.env["APIKEY_SERVE_TRUSTED_PROXIES"] = "127.0.0.1"
	s := w.serve("--addr", "127.0.0.1:0")

	type seen struct{ company, key, secret string }
	var mu sync.Mutex
	var reached []seen
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, seen{r.Header.Get("X-Company-Id"), r.Header.Get("X-Apikey-Id"), r.Header.Get("X-Api-Key") + r.Header.Get("Authorization")})
		mu.Unlock()
		fmt.Fprintf(rw, "hello %s\n", r.Header.Get("X-Company-Id"))
	}))
	defer upstream.Close()

	dir := t.TempDir()
	listen := freePort(t)
	f, err := os.Create(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	err = nginxConf.Execute(f, map[string]any{
		"Root": os.Geteuid() == 0, "Dir": dir, "Listen": listen,
		"Apikey": strings.TrimPrefix(s.base, "http://"), "Upstream": strings.TrimPrefix(upstream.URL, "http://"),
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ng := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	out := &strings.Builder{}
	ng.Stdout, ng.Stderr = out, out
	if err := ng.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { ng.Wait(); close(exited) }()
	t.Cleanup(func() {
		ng.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			ng.Process.Kill()
			<-exited
		}
	})
	ready := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", out, errLog)
		default:
		}
		if time.Now().After(ready) {
			t.Fatalf("nginx does not listen on %s: %s", listen, out)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// getFrom runs curl from the local address from ("" for the
	// default, 127.0.0.1) and returns the status, the body and the
	// Retry-After header.
	getFrom := func(from, method string, header ...string) (code int, body, retryAfter string) {
		t.Helper()
		args := []string{"-s", "-X", method, "-o", "-", "-w", "\n%header{retry-after}\n%{http_code}"}
		if from != "" {
			args = append(args, "--interface", from)
		}
		for _, h := range header {
			args = append(args, "-H", h)
		}
		args = append(args, "http://"+listen+"/orders?x=1")
		b, err := exec.Command(curl, args...).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		out := string(b)
		i := strings.LastIndexByte(out, '\n')
		j := strings.LastIndexByte(out[:max(i, 0)], '\n')
		n, err := strconv.Atoi(out[i+1:])
		if j < 0 || err != nil {
			t.Fatalf("curl printed %q", b)
		}
		return n, strings.TrimSpace(out[:j]), out[j+1 : i]
	}
	get := func(method string, header ...string) (int, string) {
		t.Helper()
		code, body, _ := getFrom("", method, header...)
		return code, body
	}
	reachedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(reached)
	}

	for _, tc := range []struct {
		name   string
		method string
		header []string
	}{
		{"key header", "GET", []string{"X-Api-Key: " + acme.Key}},
		{"bearer", "POST", []string{"Authorization: Bearer " + acme.Key}},
		{"company header", "DELETE", []string{"X-Api-Key: " + acme.Key, "X-Company: " + acme.Company.ID}},
		{"forged company id", "GET", []string{"X-Api-Key: " + acme.Key, "X-Company-Id: " + globex.Company.ID}},
	} {
		before := reachedCount()
		code, body := get(tc.method, tc.header...)
		if code != 200 || body != "hello "+acme.Company.ID {
			t.Fatalf("%s: %d %q", tc.name, code, body)
		}
		mu.Lock()
		last := reached[len(reached)-1]
		mu.Unlock()
		if reachedCount() != before+1 || last.company != acme.Company.ID || last.key != acme.ID || last.secret != "" {
			t.Errorf("%s: the upstream saw %+v", tc.name, last)
		}
	}

	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"no key", nil, 401},
		{"malformed key", []string{"X-Api-Key: " + tamperSecret(acme.Key)}, 401},
		{"another company's key", []string{"X-Api-Key: " + globex.Key, "X-Company: " + acme.Company.ID}, 401},
		{"big key", []string{"X-Api-Key: " + strings.Repeat("a", 7<<10)}, 401},
		// nginx's own bound (large_client_header_buffers) answers first.
		{"huge key", []string{"X-Api-Key: " + strings.Repeat("a", 64<<10)}, 400},
	} {
		before := reachedCount()
		if code, _ := get("GET", tc.header...); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
		if reachedCount() != before {
			t.Errorf("%s reached the upstream", tc.name)
		}
	}

	// A key with an allowlist passes from an allowed client only: serve
	// believes the address nginx forwards, and nothing a client forges.
	for _, tc := range []struct {
		name   string
		from   string
		header []string
		want   int
	}{
		{"allowed client", "127.0.0.2", nil, 200},
		{"another client", "127.0.0.3", nil, 403},
		{"nginx's own address", "", nil, 403},
		{"forged X-Forwarded-For", "127.0.0.3", []string{"X-Forwarded-For: 127.0.0.2"}, 403},
		{"forged X-Real-IP", "127.0.0.3", []string{"X-Real-IP: 127.0.0.2"}, 403},
		{"allowed client with its own X-Forwarded-For", "127.0.0.2", []string{"X-Forwarded-For: 192.0.2.1"}, 200},
	} {
		before := reachedCount()
		code, body, _ := getFrom(tc.from, "GET", append([]string{"X-Api-Key: " + office.Key}, tc.header...)...)
		if code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
		if want := map[bool]int{true: 1}[tc.want == 200]; reachedCount() != before+want {
			t.Errorf("%s: %d requests reached the upstream, want %d", tc.name, reachedCount()-before, want)
		}
	}

	// Over its rate limit: 429 with Retry-After, passed on by the
	// configuration's error page (nginx makes any answer of the auth
	// request but 2xx, 401 and 403 a 500).
	if code, body, _ := getFrom("", "GET", "X-Api-Key: "+limited.Key); code != 200 {
		t.Fatalf("limited key, first request: %d %q", code, body)
	}
	before := reachedCount()
	code, body, retryAfter := getFrom("", "GET", "X-Api-Key: "+limited.Key)
	if code != 429 || body != `{"error":"rate_limited","reason":"rate_limited"}` || retryAfter != "3600" {
		t.Errorf("limited key, second request: %d %q, Retry-After %q", code, body, retryAfter)
	}
	if reachedCount() != before {
		t.Error("a rate-limited request reached the upstream")
	}

	// A key disabled by another apikey process is refused at the gateway.
	if out, err := w.command("disable", acme.ID).CombinedOutput(); err != nil {
		t.Fatalf("disable: %v %s", err, out)
	}
	within(t, func() string {
		if code, _ := get("GET", "X-Api-Key: "+acme.Key); code != 401 {
			return fmt.Sprintf("disabled key: %d", code)
		}
		return ""
	})
	before = reachedCount()
	get("GET", "X-Api-Key: "+acme.Key)
	if reachedCount() != before {
		t.Error("a disabled key reached the upstream")
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("apikey serve exit %d: %s", code, s.log())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
