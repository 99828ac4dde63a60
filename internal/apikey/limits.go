package apikey

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// RateLimit is how many requests a key may make per second, minute or hour
// on one server.
type RateLimit struct {
	N   int
	Per time.Duration // time.Second, time.Minute or time.Hour
}

// MaxRate bounds N: more than a million requests per period is no limit.
const MaxRate = 1_000_000

// ParseRateLimit reads N/s, N/m or N/h ("100/m"); "" is no limit.
func ParseRateLimit(s string) (RateLimit, error) {
	if s == "" {
		return RateLimit{}, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	v, err := strconv.Atoi(n)
	if !ok || per == 0 || err != nil || strings.HasPrefix(n, "+") {
		return RateLimit{}, Usagef("invalid rate limit %q", s).WithHint("use N/s, N/m or N/h, such as 100/m")
	}
	if v < 1 || v > MaxRate {
		return RateLimit{}, Usagef("invalid rate limit %q", s).WithHint("N must be from 1 to " + itoa(MaxRate))
	}
	return RateLimit{N: v, Per: per}, nil
}

// IsZero reports no limit.
func (r RateLimit) IsZero() bool { return r.N == 0 }

// String is the canonical form, "100/m"; "" for no limit.
func (r RateLimit) String() string {
	if r.IsZero() {
		return ""
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	return strconv.Itoa(r.N) + "/" + unit
}

// PerSecond is the limit as a rate per second.
func (r RateLimit) PerSecond() float64 { return float64(r.N) / r.Per.Seconds() }

// MaxAllowedIPs bounds a key's allowlist.
const MaxAllowedIPs = 100

// ParseAllowedIPs reads an allowlist of CIDRs, a bare address meaning that
// address alone (/32 or /128), into canonical prefixes (the address masked,
// IPv4-mapped IPv6 as IPv4), each once, in the order given.
func ParseAllowedIPs(list []string) ([]string, error) {
	if len(list) > MaxAllowedIPs {
		return nil, Usagef("too many allowed addresses (%d)", len(list)).WithHint("at most " + itoa(MaxAllowedIPs))
	}
	out := make([]string, 0, len(list))
	seen := map[string]bool{}
	for _, s := range list {
		p, err := parseAllowedIP(s)
		if err != nil {
			return nil, err
		}
		if c := p.String(); !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

func parseAllowedIP(s string) (netip.Prefix, error) {
	bad := Usagef("invalid address or CIDR %q", s).WithHint("use an address (203.0.113.7, 2001:db8::1) or a CIDR (203.0.113.0/24)")
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, bad
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, bad
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
