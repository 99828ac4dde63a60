package apikey

import (
	"strings"
	"time"
)

// Reason says why a presented key was refused. The reasons are part of the
// contract of verify and serve.
type Reason string

const (
	ReasonNone       Reason = ""
	ReasonMissingKey Reason = "missing_key"
	ReasonMalformed  Reason = "malformed"
	ReasonInvalid    Reason = "invalid"
	ReasonInactive   Reason = "inactive"
	ReasonExpired    Reason = "expired"
)

// Judge decides whether a key found by its secret's hash may be used now.
// secretExpiresAt is set for an old secret in its grace period after a
// rotation. company, when not empty, is what the client claimed as its
// company: a key of another company is answered exactly as an unknown one,
// so that one tenant cannot learn of another's keys.
func Judge(k Key, secretExpiresAt *time.Time, company string, now time.Time) Reason {
	if secretExpiresAt != nil && !now.Before(*secretExpiresAt) {
		return ReasonInvalid
	}
	if company != "" && !CompanyMatches(k.Company, company) {
		return ReasonInvalid
	}
	switch k.EffectiveStatus(now) {
	case StatusExpired:
		return ReasonExpired
	case StatusInactive:
		return ReasonInactive
	}
	return ReasonNone
}

// CompanyMatches reports whether claim names the company c: its id (as sent in
// the company header), its name (case-insensitive) or its ref.
func CompanyMatches(c CompanyRef, claim string) bool {
	return strings.EqualFold(claim, c.ID) || NameKey(claim) == NameKey(c.Name) || (c.Ref != "" && claim == c.Ref)
}
