package apikey

import (
	"slices"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	for in, want := range map[string]RateLimit{"": {}, "100/m": {100, time.Minute}, "1/s": {1, time.Second}, "5000/h": {5000, time.Hour}, "1000000/s": {MaxRate, time.Second}} {
		got, err := ParseRateLimit(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("%q: %v %v (%q)", in, got, err, got.String())
		}
	}
	for _, in := range []string{"100", "100/d", "0/s", "-1/s", "+5/s", "1000001/s", "x/m", "100/M", " 1/s", "1/s "} {
		if _, err := ParseRateLimit(in); KindOf(err) != KindUsage {
			t.Errorf("%q: %v", in, err)
		}
	}
	if r := (RateLimit{120, time.Minute}); r.PerSecond() != 2 {
		t.Errorf("%v per second", r.PerSecond())
	}
}

func TestParseAllowedIPs(t *testing.T) {
	got, err := ParseAllowedIPs([]string{"203.0.113.7", "10.1.2.3/8", "2001:db8::1", "2001:db8::/32", "::ffff:192.0.2.1", "10.0.0.0/8", "::ffff:198.51.100.0/120"})
	want := []string{"203.0.113.7/32", "10.0.0.0/8", "2001:db8::1/128", "2001:db8::/32", "192.0.2.1/32", "198.51.100.0/24"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v %v, want %v", got, err, want)
	}
	for _, in := range []string{"", "x", "10.0.0.0/33", "fe80::1%eth0", "1.2.3", "10.0.0.1/", "2001:db8::/129"} {
		if _, err := ParseAllowedIPs([]string{in}); KindOf(err) != KindUsage {
			t.Errorf("%q: %v", in, err)
		}
	}
	if got, err := ParseAllowedIPs(nil); err != nil || len(got) != 0 || got == nil {
		t.Errorf("none: %v %v", got, err)
	}
}
