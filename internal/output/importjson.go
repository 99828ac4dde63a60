package output

// ImportReportJSON is what `import -o json` prints: what the import did, or
// would do (dry_run).
type ImportReportJSON struct {
	DryRun    bool                 `json:"dry_run"`
	Companies ImportCountsJSON     `json:"companies"`
	Keys      ImportCountsJSON     `json:"keys"`
	Events    ImportCountsJSON     `json:"events"`
	Conflicts []ImportConflictJSON `json:"conflicts"` // the first 100
	// ConflictCount counts every conflict, listed or not.
	ConflictCount int `json:"conflict_count"`
}

// ImportCountsJSON counts the records of one type.
type ImportCountsJSON struct {
	New       int `json:"new"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
}

// ImportConflictJSON is one record that conflicts with the store.
type ImportConflictJSON struct {
	Line   int     `json:"line"`
	Record string  `json:"record"` // company or key
	ID     *string `json:"id"`     // null for a row of legacy keys, which has none
	Name   string  `json:"name"`   // the company's or key's name
	Reason string  `json:"reason"`
}
