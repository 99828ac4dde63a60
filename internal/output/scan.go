package output

import (
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// SARIF is scan's format for code-scanning tools (GitHub code scanning,
// GitLab, Azure DevOps): SARIF 2.1.0.
const SARIF Format = "sarif"

// Finding is a secret that scan found, with what the store knows of it.
// The secret itself is not part of it.
type Finding struct {
	Path         string // "-" for standard input
	Line, Column int    // from 1; the column in characters
	Length       int    // of the secret, in characters
	Hint         string
	// Fingerprint names the secret without revealing it: the SHA-256 of
	// the hash the store keeps, in hex.
	Fingerprint string
	// Key is the key whose secret it is; nil when no store knows it.
	Key *apikey.Key
	// SecretExpiresAt is set for an old secret of a rotated key: when it
	// stops (or stopped) working.
	SecretExpiresAt *time.Time
	// Disabled: this scan switched the key off (--disable).
	Disabled bool
}

// Works reports whether the secret found would be accepted at now, as
// far as the store knows: the key is active and the secret is its current
// one or in its grace. An unknown secret does not work here, though it may
// in another store.
func (f Finding) Works(now time.Time) bool {
	return f.Key != nil && apikey.Judge(*f.Key, f.SecretExpiresAt, "", now) == apikey.ReasonNone
}

// FindingJSON is one element of scan's JSON array.
type FindingJSON struct {
	Path            string     `json:"path"`
	Line            int        `json:"line"`
	Column          int        `json:"column"`
	Hint            string     `json:"hint"`
	Fingerprint     string     `json:"fingerprint"`
	Key             *KeyJSON   `json:"key"`
	SecretExpiresAt *time.Time `json:"secret_expires_at"`
	Disabled        bool       `json:"disabled"`
}

// FindingView is the JSON form of a finding.
func FindingView(f Finding, now time.Time) FindingJSON {
	v := FindingJSON{
		Path: f.Path, Line: f.Line, Column: f.Column, Hint: f.Hint, Fingerprint: f.Fingerprint,
		SecretExpiresAt: utcPtr(f.SecretExpiresAt), Disabled: f.Disabled,
	}
	if f.Key != nil {
		kv := KeyView(*f.Key, now)
		v.Key = &kv
	}
	return v
}

// Findings prints scan's findings as a table or JSON (SARIF: WriteSARIF).
func (p *Printer) Findings(w io.Writer, fs []Finding) error {
	if p.Format == JSON {
		a := newJSONArray(w)
		for _, f := range fs {
			if err := a.add(FindingView(f, p.Now)); err != nil {
				return err
			}
		}
		return a.close()
	}
	t := newTable(w, "LOCATION", "HINT", "KEY", "NAME", "COMPANY", "STATUS")
	for _, f := range fs {
		id, name, company, status := "-", "-", "-", "unknown"
		if k := f.Key; k != nil {
			id, name, company, status = k.ID, k.Name, k.Company.Name, p.status(k.EffectiveStatus(p.Now))
			if f.SecretExpiresAt != nil {
				status += ", old secret " + p.secretEnd(*f.SecretExpiresAt)
			}
			if f.Disabled {
				status += " (disabled now)"
			}
		}
		if err := t.row(f.Location(), f.Hint, id, name, company, status); err != nil {
			return err
		}
	}
	return t.render()
}

func (p *Printer) secretEnd(t time.Time) string {
	if p.Now.Before(t) {
		return "until " + p.when(&t)
	}
	return "ended"
}

// Location is where a finding is, as compilers say it: path:line:column.
func (f Finding) Location() string {
	return f.Path + ":" + strconv.Itoa(f.Line) + ":" + strconv.Itoa(f.Column)
}

// SARIF 2.1.0, the parts scan fills in. GitHub code scanning reads
// tool.driver.name and rules, and of each result its ruleId, level,
// message, the first location (a relative URI and a region) and
// partialFingerprints, by which it follows an alert from run to run.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool       sarifTool     `json:"tool"`
		ColumnKind string        `json:"columnKind"`
		Results    []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name"`
		ShortDescription     sarifText      `json:"shortDescription"`
		FullDescription      sarifText      `json:"fullDescription"`
		Help                 sarifHelp      `json:"help"`
		DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
		Properties           map[string]any `json:"properties"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifHelp struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          map[string]any    `json:"properties,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           sarifRegion   `json:"region"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn"`
		EndLine     int `json:"endLine"`
		EndColumn   int `json:"endColumn"`
	}
)

// SARIFRuleID is the one rule of scan's SARIF: a secret in the text.
const SARIFRuleID = "apikey/leaked-secret"

// SARIFFingerprint is the name of the partial fingerprint of a result: the
// finding's Fingerprint, so that an alert stays one alert while the
// secret stays where it is, and a second alert is raised for another one.
const SARIFFingerprint = "apikeySecretHash/v1"

const sarifHelpText = `An apikey secret (an API key issued by apikey, with a valid checksum) is written in this file. Anyone who reads the file can call the API as the key's owner.

Switch the key off at once (apikey disable KEY, or apikey scan --disable), then rotate it (apikey rotate KEY) and give the new secret to its owner through a secret store, not a file. Remove the secret from the file, and from the history of the repository if it was pushed.`

// WriteSARIF prints scan's findings as one SARIF 2.1.0 log. version is
// apikey's. A result is an error when its secret works or is unknown, and
// a warning when the store knows it no longer does (an inactive or
// expired key, an old secret past its grace).
func (p *Printer) WriteSARIF(w io.Writer, fs []Finding, version string) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "apikey", Version: version, InformationURI: "https://github.com/apikeyhq/apikey",
			Rules: []sarifRule{{
				ID:                   SARIFRuleID,
				Name:                 "LeakedApikeySecret",
				ShortDescription:     sarifText{"Leaked apikey secret"},
				FullDescription:      sarifText{"A secret of an API key issued by apikey, with a valid checksum, appears in the text."},
				Help:                 sarifHelp{Text: sarifHelpText, Markdown: sarifHelpText},
				DefaultConfiguration: sarifConfig{Level: "error"},
				Properties: map[string]any{
					"tags":              []string{"security", "secrets", "external/cwe/cwe-798"},
					"precision":         "very-high",
					"problem.severity":  "error",
					"security-severity": "9.0",
				},
			}},
		}},
		ColumnKind: "unicodeCodePoints",
		Results:    []sarifResult{},
	}
	for _, f := range fs {
		level := "error"
		if f.Key != nil && !f.Works(p.Now) {
			level = "warning"
		}
		r := sarifResult{
			RuleID: SARIFRuleID, Level: level, Message: sarifText{p.findingMessage(f)},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: sarifURI(f.Path)},
				Region:           sarifRegion{StartLine: f.Line, StartColumn: f.Column, EndLine: f.Line, EndColumn: f.Column + f.Length},
			}}},
			PartialFingerprints: map[string]string{SARIFFingerprint: f.Fingerprint},
		}
		if k := f.Key; k != nil {
			r.Properties = map[string]any{"key": map[string]any{
				"id": k.ID, "name": k.Name, "status": k.EffectiveStatus(p.Now),
				"company": map[string]any{"id": k.Company.ID, "name": k.Company.Name},
			}}
		}
		run.Results = append(run.Results, r)
	}
	return WriteJSON(w, sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}

// findingMessage says what was found, with the hint and never the secret.
func (p *Printer) findingMessage(f Finding) string {
	k := f.Key
	if k == nil {
		return fmt.Sprintf("apikey secret %s, of a key not known here (no store was read, or the key is another store's, or deleted). Remove it, and have its owner rotate it.", f.Hint)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apikey secret %s of key %q (%s) of %s", f.Hint, k.Name, k.ID, k.Company.Name)
	switch {
	case f.Disabled:
		b.WriteString(": the key was switched off by this scan. Rotate it, and remove the secret.")
	case f.Works(p.Now):
		b.WriteString(": the key is active and the secret works. Switch the key off and rotate it.")
	case f.SecretExpiresAt != nil && !p.Now.Before(*f.SecretExpiresAt):
		b.WriteString(": an old secret of the key, which no longer works. Remove it.")
	default:
		fmt.Fprintf(&b, ": the key is %s. Remove the secret, and rotate the key before it is switched on again.", k.EffectiveStatus(p.Now))
	}
	return b.String()
}

// sarifURI is a path as a URI reference: relative paths stay relative (to
// the directory scanned from, which code scanning takes for the root of
// the repository), with / between their parts.
func sarifURI(p string) string {
	slash := filepath.ToSlash(p)
	if filepath.IsAbs(p) {
		if !strings.HasPrefix(slash, "/") {
			slash = "/" + slash // C:/x
		}
		return (&url.URL{Scheme: "file", Path: slash}).String()
	}
	return (&url.URL{Path: slash}).String()
}
