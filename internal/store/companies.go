package store

import (
	"context"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/google/uuid"
)

// CreateCompany adds a company and records company.create.
func (s *Store) CreateCompany(ctx context.Context, name, ref, actor string) (apikey.Company, error) {
	var c apikey.Company
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
		var err error
		c, err = createCompany(ctx, tx, name, ref, actor, s.clock())
		return err
	})
	return c, err
}

func createCompany(ctx context.Context, tx engine.Tx, name, ref, actor string, now time.Time) (apikey.Company, error) {
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
	if err := tx.InsertCompany(ctx, c); err != nil {
		return c, err
	}
	details := map[string]any{}
	if ref != "" {
		details["ref"] = ref
	}
	return c, addEvent(ctx, tx, now, actor, apikey.ActionCompanyCreate, companyRef(c), nil, details)
}

// checkCompanyUnique refuses a name or ref (either may be "") that would
// make a reference name two companies: one that folds to another company's
// name or ref (a name may not be another's ref, nor a ref another's name),
// or that is another company's id. selfID is the company being renamed.
func checkCompanyUnique(ctx context.Context, tx engine.Tx, selfID, name, ref string) error {
	for _, v := range []struct{ what, value string }{{"name", name}, {"ref", ref}} {
		if v.value == "" {
			continue
		}
		if id := strings.ToLower(v.value); isID(id) {
			other, found, err := tx.CompanyByID(ctx, id)
			if err != nil {
				return err
			}
			if found && other.ID != selfID {
				return apikey.Conflictf("%s %q is the id of company %q", v.what, v.value, other.Name)
			}
			// Such a reference is read as an id, never as a name or
			// ref: the company could not be named by it.
			return apikey.Usagef("a company %s must not have the form of an id", v.what).WithHint("a reference of that form is read as a company id")
		}
		key := apikey.Fold(v.value)
		others, err := tx.CompaniesByKey(ctx, key)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.ID == selfID {
				continue
			}
			nameClash := apikey.NameKey(o.Name) == key
			switch {
			case v.what == "name" && nameClash:
				return apikey.Conflictf("company %q already exists", o.Name)
			case v.what == "name":
				return apikey.Conflictf("name %q is the ref of company %q", v.value, o.Name)
			case nameClash:
				return apikey.Conflictf("ref %q is the name of company %q", v.value, o.Name)
			default:
				return apikey.Conflictf("ref %q already belongs to company %q", v.value, o.Name)
			}
		}
	}
	return nil
}

func companyRef(c apikey.Company) *apikey.CompanyRef {
	return &apikey.CompanyRef{ID: c.ID, Name: c.Name, Ref: c.Ref}
}

// ListCompanies returns every company, by name, with its key count.
func (s *Store) ListCompanies(ctx context.Context) ([]apikey.Company, error) {
	var out []apikey.Company
	err := s.eng.Read(ctx, func(tx engine.Tx) error {
		var err error
		out, err = tx.Companies(ctx)
		return err
	})
	if out == nil {
		out = []apikey.Company{}
	}
	return out, err
}

// Company resolves a company reference.
func (s *Store) Company(ctx context.Context, ref string) (apikey.Company, error) {
	var c apikey.Company
	err := s.eng.Read(ctx, func(tx engine.Tx) error {
		var err error
		c, err = resolveCompany(ctx, tx, ref)
		return err
	})
	return c, err
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
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
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
		c.Name, c.Ref, c.UpdatedAt = newName, newRef, now
		if err := tx.UpdateCompany(ctx, c); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, actor, apikey.ActionCompanyUpdate, companyRef(c), nil, details)
	})
	return c, err
}

// DeleteCompanies deletes the companies with the given ids. A company that
// still owns keys is refused unless cascade, which deletes its keys first,
// each recorded as key.delete.
func (s *Store) DeleteCompanies(ctx context.Context, ids []string, cascade bool, actor string) error {
	return s.eng.Write(ctx, func(tx engine.Tx) error {
		now := s.clock()
		for _, id := range ids {
			c, found, err := tx.CompanyByID(ctx, id)
			if err != nil {
				return err
			}
			if !found {
				return apikey.NotFoundf("company %q not found", id).WithHint("was it deleted meanwhile?")
			}
			if c.Keys > 0 && !cascade {
				return apikey.Conflictf("company %q still owns %d key(s)", c.Name, c.Keys).WithHint("delete them first or use --cascade")
			}
			if c.Keys > 0 {
				keys, err := tx.KeysOfCompany(ctx, c.ID)
				if err != nil {
					return err
				}
				if err := deleteKeys(ctx, tx, keys, actor, now); err != nil {
					return err
				}
			}
			if err := tx.DeleteCompany(ctx, c.ID); err != nil {
				return err
			}
			if err := addEvent(ctx, tx, now, actor, apikey.ActionCompanyDelete, companyRef(c), nil, map[string]any{"keys": c.Keys}); err != nil {
				return err
			}
		}
		return nil
	})
}
