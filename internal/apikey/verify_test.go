package apikey

import (
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	company := CompanyRef{ID: "23aee342-eccd-4fed-8553-7eb6092cea70", Name: "Müller GmbH", Ref: "273-542-26244"}
	key := func(status Status, expires *time.Time) Key {
		return Key{ID: "k", Company: company, Status: status, ExpiresAt: expires}
	}
	for _, c := range []struct {
		name          string
		key           Key
		secretExpires *time.Time
		claim         string
		want          Reason
	}{
		{"active", key(StatusActive, nil), nil, "", ReasonNone},
		{"active, expiry ahead", key(StatusActive, &future), nil, "", ReasonNone},
		{"inactive", key(StatusInactive, nil), nil, "", ReasonInactive},
		{"expired", key(StatusActive, &past), nil, "", ReasonExpired},
		{"expiring this instant", key(StatusActive, &now), nil, "", ReasonExpired},
		{"inactive and expired", key(StatusInactive, &past), nil, "", ReasonExpired},
		{"old secret in its grace", key(StatusActive, nil), &future, "", ReasonNone},
		{"old secret after its grace", key(StatusActive, nil), &past, "", ReasonInvalid},
		{"old secret at the end of its grace", key(StatusActive, nil), &now, "", ReasonInvalid},
		{"old secret after grace, inactive key", key(StatusInactive, nil), &past, "", ReasonInvalid},
		{"company by id", key(StatusActive, nil), nil, company.ID, ReasonNone},
		{"company by upper-case id", key(StatusActive, nil), nil, "23AEE342-ECCD-4FED-8553-7EB6092CEA70", ReasonNone},
		// Names and refs are resolved to an id before Judge: a name, even
		// the key's company's, is not an id.
		{"a name is not the company id", key(StatusActive, nil), nil, "Müller GmbH", ReasonInvalid},
		{"a ref is not the company id", key(StatusActive, nil), nil, "273-542-26244", ReasonInvalid},
		{"another company", key(StatusActive, nil), nil, "00000000-0000-4000-8000-000000000000", ReasonInvalid},
		{"another company, inactive key: no hint that it exists", key(StatusInactive, nil), nil, "Globex", ReasonInvalid},
		{"another company, expired key", key(StatusActive, &past), nil, "Globex", ReasonInvalid},
		{"an id prefix is not the company", key(StatusActive, nil), nil, "23aee342", ReasonInvalid},
	} {
		if got := Judge(c.key, c.secretExpires, c.claim, now); got != c.want {
			t.Errorf("%s: Judge = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestEffectiveStatus(t *testing.T) {
	now := time.Now()
	past := now.Add(-time.Minute)
	k := Key{Status: StatusInactive, ExpiresAt: &past}
	if k.EffectiveStatus(now) != StatusExpired || !k.Expired(now) {
		t.Errorf("an inactive key past its expiry shows as %q", k.EffectiveStatus(now))
	}
	k.ExpiresAt = nil
	if k.EffectiveStatus(now) != StatusInactive || k.Expired(now) {
		t.Errorf("an inactive key without expiry shows as %q", k.EffectiveStatus(now))
	}
}
