package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestParseTimeReadsAsTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-03-01T12:00:00.000000Z",
		"2026-11-23T09:18:12.123456Z",
		"1999-12-31T23:59:59.999999Z",
		"2024-02-29T00:00:00.000001Z",
		"2023-02-29T00:00:00.000000Z", // no such day
		"2026-04-31T00:00:00.000000Z",
		"2026-13-01T00:00:00.000000Z",
		"2026-00-01T00:00:00.000000Z",
		"2026-01-00T00:00:00.000000Z",
		"2026-01-01T24:00:00.000000Z",
		"2026-01-01T00:60:00.000000Z",
		"2026-01-01T00:00:60.000000Z",
		"2026-01-01T00:00:00.00000aZ",
		"2026-01-01 00:00:00.000000Z",
		"2026-01-01T00:00:00.000000",
		"2026-01-01T00:00:00Z",
		"",
	} {
		want, _ := time.Parse(timeLayout, s)
		got := parseTime(s)
		if !got.Equal(want) || got.Location() != want.Location() {
			t.Errorf("parseTime(%q) = %v, want %v", s, got, want)
		}
		if back := fmtTime(got); !want.IsZero() && back != s {
			t.Errorf("fmtTime(parseTime(%q)) = %q", s, back)
		}
	}
}

func TestParseListAndMapReadAsEncodingJSON(t *testing.T) {
	lists := [][]string{nil, {}, {"a"}, {"invoices:read", "invoices:write"}, {"<&>"}, {`q"uote`, `back\slash`}, {"ünï", "日本"}, {"", "x"}, {"\u2028", "\t"}}
	for _, l := range lists {
		s := jsonList(l)
		want := []string{}
		if len(l) > 0 {
			want = l
		}
		if got := parseList(s); !reflect.DeepEqual(got, want) {
			t.Errorf("parseList(%s) = %#v, want %#v", s, got, want)
		}
	}
	maps := []map[string]string{nil, {}, {"env": "prod"}, {"a": "1", "b": "2", "c": ""}, {`k"`: `v\`, "<": ">"}, {"ключ": "значение"}}
	for _, m := range maps {
		s := jsonMap(m)
		want := map[string]string{}
		for k, v := range m {
			want[k] = v
		}
		if got := parseMap(s); !reflect.DeepEqual(got, want) {
			t.Errorf("parseMap(%s) = %#v, want %#v", s, got, want)
		}
	}
	// What no version of apikey wrote still reads as encoding/json reads it,
	// and what it cannot read is empty.
	for _, s := range []string{`[ "a" , "b" ]`, `["a",1]`, `["a"`, `"a"`, ``, `null`, `["a","b",]`, `["a":"b"]`} {
		var want []string
		if json.Unmarshal([]byte(s), &want) != nil || want == nil {
			want = []string{}
		}
		if got := parseList(s); !reflect.DeepEqual(got, want) {
			t.Errorf("parseList(%s) = %#v, want %#v", s, got, want)
		}
	}
	for _, s := range []string{`{ "a" : "b" }`, `{"a":"b","c"}`, `{"a","b"}`, `{"a":1}`, `{}x`, `null`, `{"a":"b",}`} {
		var want map[string]string
		if json.Unmarshal([]byte(s), &want) != nil || want == nil {
			want = map[string]string{}
		}
		if got := parseMap(s); !reflect.DeepEqual(got, want) {
			t.Errorf("parseMap(%s) = %#v, want %#v", s, got, want)
		}
	}
}
