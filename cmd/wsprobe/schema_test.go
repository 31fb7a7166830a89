package main

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// documentedFields reads the field names the package documentation lists
// under "JSON output".
func documentedFields(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(src), "# JSON output, schema_version 1")
	if !ok {
		t.Fatal("doc.go has no JSON output section")
	}
	name := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fields := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		body, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			continue
		}
		first := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(body), 2)[0]
		for _, f := range strings.Split(first, ",") {
			if f = strings.TrimSpace(f); name.MatchString(f) {
				fields[f] = true
			}
		}
	}
	return fields
}

// jsonTags lists the JSON names of t's fields, and of the structs it holds.
func jsonTags(t reflect.Type, seen map[reflect.Type]bool, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || t == reflect.TypeOf(time.Time{}) {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
		jsonTags(f.Type, seen, out)
	}
}

// keys collects every object key in v, at any depth.
func keys(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out[k] = true
			// Header maps are name to values, not schema fields.
			if k != "request_headers" && k != "response_headers" && k != "disconnects_by_code" {
				keys(e, out)
			}
		}
	case []any:
		for _, e := range x {
			keys(e, out)
		}
	}
}

func TestJSONFieldsAreDocumented(t *testing.T) {
	doc := documentedFields(t)
	tags := map[string]bool{}
	seen := map[reflect.Type]bool{}
	jsonTags(reflect.TypeOf(Report{}), seen, tags)
	jsonTags(reflect.TypeOf(Event{}), seen, tags)
	for name := range tags {
		if !doc[name] {
			t.Errorf("JSON field %q is not in the documented schema (doc.go)", name)
		}
	}
	for name := range doc {
		if !tags[name] {
			t.Errorf("the documented schema lists %q, which no type has", name)
		}
	}
}

// TestJSONReport checks a full report against the schema: version, type,
// every key documented, the sections present.
func TestJSONReport(t *testing.T) {
	s := wstest.NewServer(t, wstest.Script(1, wstest.Delay(300*time.Millisecond), wstest.Drop()), wstest.Default(wstest.ReadLimit(2000)), wstest.WithRecordLimit(0))
	code, _, out := probeJSON(t, "-echo", "-pings", "2", "-idle", "-idle-max", "5s", "-max-size=4KiB", s.URL)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v["schema_version"] != float64(1) || v["type"] != "report" || v["mode"] != "probe" || v["verdict"] != "healthy" || v["exit_code"] != float64(0) {
		t.Errorf("header fields: %v %v %v %v %v", v["schema_version"], v["type"], v["mode"], v["verdict"], v["exit_code"])
	}
	for _, section := range []string{"handshake", "ping", "echo", "keepalive", "idle", "size_limit", "disconnects", "problems", "request_headers"} {
		if _, ok := v[section]; !ok {
			t.Errorf("no %q in the report", section)
		}
	}
	if _, ok := v["watch"]; ok {
		t.Error("a watch section outside -watch")
	}
	doc := documentedFields(t)
	got := map[string]bool{}
	keys(v, got)
	for k := range got {
		if !doc[k] {
			t.Errorf("key %q in the output is not in the documented schema", k)
		}
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one line of JSON, got:\n%s", out)
	}
}
