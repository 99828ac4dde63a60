package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/google/uuid"
)

// CreateCompany adds a company and records company.create.
func (s *Store) CreateCompany(ctx context.Context, name, ref, actor string) (apikey.Company, error) {
	var c apikey.Company
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = createCompany(ctx, tx, name, ref, actor, s.clock())
		return err
	})
	return c, err
}

func createCompany(ctx context.Context, tx *sql.Tx, name, ref, actor string, now time.Time) (apikey.Company, error) {
	if err := apikey.ValidateCompanyName(name); err != nil {
		return apikey.Company{}, err
	}
	if ref != "" {
		if err := apikey.ValidateRef(ref); err != nil {
			return apikey.Company{}, err
		}
	}
	if err := checkCompanyUnique(ctx, tx, "", name, ref); err != nil {
		return apikey.Company{}, err
	}
	c := apikey.Company{ID: uuid.NewString(), Name: name, Ref: ref, CreatedAt: now, UpdatedAt: now}
	_, err := tx.ExecContext(ctx, `INSERT INTO companies (id, name, name_key, ref, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, apikey.NameKey(c.Name), nullString(ref), fmtTime(now), fmtTime(now))
	if err != nil {
		return c, err
	}
	details := map[string]any{}
	if ref != "" {
		details["ref"] = ref
	}
	return c, addEvent(ctx, tx, now, actor, apikey.ActionCompanyCreate, companyRef(c), nil, details)
}

// checkCompanyUnique reports a conflict when another company (not selfID) has
// the name or the ref.
func checkCompanyUnique(ctx context.Context, tx *sql.Tx, selfID, name, ref string) error {
	if name != "" {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT name FROM companies WHERE name_key = ? AND id <> ?`, apikey.NameKey(name), selfID).Scan(&other)
		if err == nil {
			return apikey.Conflictf("company %q already exists", other)
		}
		if err != sql.ErrNoRows {
			return err
		}
	}
	if ref != "" {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT name FROM companies WHERE ref = ? AND id <> ?`, ref, selfID).Scan(&other)
		if err == nil {
			return apikey.Conflictf("ref %q already belongs to company %q", ref, other)
		}
		if err != sql.ErrNoRows {
			return err
		}
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func companyRef(c apikey.Company) *apikey.CompanyRef {
	return &apikey.CompanyRef{ID: c.ID, Name: c.Name, Ref: c.Ref}
}

// ListCompanies returns every company, by name, with its key count.
func (s *Store) ListCompanies(ctx context.Context) ([]apikey.Company, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+companyColumns+` FROM companies c ORDER BY c.name_key`)
	if err != nil {
		return nil, translate(s.path, err)
	}
	defer rows.Close()
	out := []apikey.Company{}
	for rows.Next() {
		c, err := scanCompany(rows)
		if err != nil {
			return nil, translate(s.path, err)
		}
		out = append(out, c)
	}
	return out, translate(s.path, rows.Err())
}

// Company resolves a company reference.
func (s *Store) Company(ctx context.Context, ref string) (apikey.Company, error) {
	c, err := resolveCompany(ctx, s.db, ref)
	return c, translate(s.path, err)
}

// CompanyUpdate says what to change; nil fields stay as they are. A Ref
// pointing to "" removes the ref.
type CompanyUpdate struct {
	Name *string
	Ref  *string
}

// UpdateCompany changes a company's name or ref and records company.update.
func (s *Store) UpdateCompany(ctx context.Context, ref string, u CompanyUpdate, actor string) (apikey.Company, error) {
	var c apikey.Company
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = resolveCompany(ctx, tx, ref); err != nil {
			return err
		}
		details := map[string]any{}
		newName, newRef := c.Name, c.Ref
		if u.Name != nil && *u.Name != c.Name {
			if err := apikey.ValidateCompanyName(*u.Name); err != nil {
				return err
			}
			details["name"] = map[string]any{"from": c.Name, "to": *u.Name}
			newName = *u.Name
		}
		if u.Ref != nil && *u.Ref != c.Ref {
			if *u.Ref != "" {
				if err := apikey.ValidateRef(*u.Ref); err != nil {
					return err
				}
			}
			details["ref"] = map[string]any{"from": c.Ref, "to": *u.Ref}
			newRef = *u.Ref
		}
		if len(details) == 0 {
			return nil // already as asked: not an error, nothing recorded
		}
		if err := checkCompanyUnique(ctx, tx, c.ID, newName, newRef); err != nil {
			return err
		}
		now := s.clock()
		if _, err := tx.ExecContext(ctx, `UPDATE companies SET name = ?, name_key = ?, ref = ?, updated_at = ? WHERE id = ?`,
			newName, apikey.NameKey(newName), nullString(newRef), fmtTime(now), c.ID); err != nil {
			return err
		}
		c.Name, c.Ref, c.UpdatedAt = newName, newRef, now
		return addEvent(ctx, tx, now, actor, apikey.ActionCompanyUpdate, companyRef(c), nil, details)
	})
	return c, err
}

// DeleteCompanies deletes the companies with the given ids. A company that
// still owns keys is refused unless cascade, which deletes its keys first,
// each recorded as key.delete.
func (s *Store) DeleteCompanies(ctx context.Context, ids []string, cascade bool, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.clock()
		for _, id := range ids {
			c, err := scanCompany(tx.QueryRowContext(ctx, `SELECT `+companyColumns+` FROM companies c WHERE c.id = ?`, id))
			if err == sql.ErrNoRows {
				return apikey.NotFoundf("company %q not found", id)
			}
			if err != nil {
				return err
			}
			if c.Keys > 0 && !cascade {
				return apikey.Conflictf("company %q still owns %d key(s)", c.Name, c.Keys).WithHint("delete them first or use --cascade")
			}
			if c.Keys > 0 {
				keys, err := queryKeys(ctx, tx, `WHERE k.company_id = ? ORDER BY k.rowid`, c.ID)
				if err != nil {
					return err
				}
				if err := deleteKeys(ctx, tx, keys, actor, now); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM companies WHERE id = ?`, c.ID); err != nil {
				return err
			}
			if err := addEvent(ctx, tx, now, actor, apikey.ActionCompanyDelete, companyRef(c), nil, map[string]any{"keys": c.Keys}); err != nil {
				return err
			}
		}
		return nil
	})
}
