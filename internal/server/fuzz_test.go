package server

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
)

// FuzzHeaders: whatever a client puts in the key, company and Authorization
// headers, method and path, the handlers answer 2xx, 401 or 404 (never 5xx),
// accept only the real secret with its own company, and never echo a secret.
func FuzzHeaders(f *testing.F) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	id := uuid.NewString()
	secret, m, _ := apikey.MintSecret("ak", id, nil)
	k, err := st.CreateKey(ctx, store.NewKey{ID: id, Company: "Fuzz Co", CreateCompany: true, Name: "fuzz", Status: apikey.StatusActive, Secret: m, Actor: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	other, _ := apikey.NewSecret("ak")
	s := New(Options{Store: st, Addr: "127.0.0.1:0", Log: io.Discard})
	for _, seed := range [][5]string{
		{"GET", "/v1/me", secret, k.Company.ID, ""},
		{"GET", "/v1/me", "", "", "Bearer " + secret},
		{"POST", "/v1/auth", secret, strings.ToUpper(k.Company.ID), ""},
		{"GET", "/v1/me", secret, uuid.NewString(), ""},
		{"GET", "/v1/me", other, "", ""},
		{"PUT", "/v1/auth/some/path", "ak_x", "'; DROP TABLE keys", "Basic Zm9vOmJhcg=="},
		{"GET", "/healthz", "", "", ""},
		{"GET", "/nope", strings.Repeat("a", 5000), "\xff\xfe", "Bearer"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	f.Fuzz(func(t *testing.T, method, path, key, company, authz string) {
		req, err := http.NewRequest(method, "http://x/", nil)
		if err != nil {
			return // not a request net/http would hand us
		}
		req.URL.Path = path
		req.Header["X-Api-Key"] = []string{key}
		req.Header["X-Company"] = []string{company}
		req.Header["Authorization"] = []string{authz}
		rec := record(s, req)
		code := rec.Code
		if code >= 500 {
			t.Fatalf("%s %q answered %d: %s", method, path, code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), secret) || strings.Contains(strings.Join(flatten(rec.Header()), "\n"), secret) {
			t.Fatalf("the answer contains the secret")
		}
		if code == http.StatusOK && (strings.HasPrefix(path, "/v1/me") || strings.HasPrefix(path, "/v1/auth")) {
			presented := key
			if presented == "" {
				presented = strings.TrimPrefix(authz, "Bearer ")
			}
			if strings.TrimSpace(presented) != secret && !strings.Contains(authz, secret) && !strings.Contains(key, secret) {
				t.Fatalf("accepted a key that is not the secret: key=%q authz=%q", key, authz)
			}
			if company != "" && !strings.EqualFold(strings.TrimSpace(company), k.Company.ID) {
				t.Fatalf("accepted the key with another company %q", company)
			}
		}
	})
}

func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	return out
}
