// Command golden renders every case in cases.json with Go's text/template and writes golden.json,
// the expectations libs/template's tests compare against. Run: go run . (from this directory).
//
// Cases run with Option("missingkey=error"), data map[string]any{"Secrets": ..., ...}, and the Helm/Sprig
// functions implemented below as Sprig and Helm implement them. Cases marked "lenient" are the documented
// deviation (missing keys read as empty where they are checked): they run with missingkey=zero, which is
// what the deviation means in Go's terms, and their hand-written expectation must match. Cases with
// "secretsType": "map[string]string" pass their Secrets as Go's map[string]string, as Distr does (the
// TypeScript engine's GoStringMap); every value there must be a string.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"text/template"
)

type testCase struct {
	Name        string          `json:"name"`
	Template    string          `json:"template"`
	Data        json.RawMessage `json:"data,omitempty"`
	SecretsType string          `json:"secretsType,omitempty"`
	Lenient     bool            `json:"lenient,omitempty"`
	Expect      *expectation    `json:"expect,omitempty"`
}

type expectation struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
	Phase  string  `json:"phase,omitempty"`
}

type caseFile struct {
	DefaultData json.RawMessage `json:"defaultData"`
	Cases       []testCase      `json:"cases"`
}

type goldenFile struct {
	Go          string          `json:"go"`
	DefaultData json.RawMessage `json:"defaultData"`
	Cases       []golden        `json:"cases"`
}

type golden struct {
	Name        string          `json:"name"`
	Template    string          `json:"template"`
	Data        json.RawMessage `json:"data,omitempty"`
	SecretsType string          `json:"secretsType,omitempty"`
	Lenient     bool            `json:"lenient,omitempty"`
	Output      *string         `json:"output,omitempty"`
	Error       *string         `json:"error,omitempty"`
	Phase       string          `json:"phase,omitempty"`
}

// ---- Sprig/Helm functions, as sprig v3 and helm v3 define them ----

func empty(given interface{}) bool {
	g := reflect.ValueOf(given)
	if !g.IsValid() {
		return true
	}
	switch g.Kind() {
	default:
		return g.IsNil()
	case reflect.Array, reflect.Slice, reflect.Map, reflect.String:
		return g.Len() == 0
	case reflect.Bool:
		return !g.Bool()
	case reflect.Complex64, reflect.Complex128:
		return g.Complex() == 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return g.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return g.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return g.Float() == 0
	case reflect.Struct:
		return false
	}
}

func dfault(d interface{}, given ...interface{}) interface{} {
	if empty(given) || empty(given[0]) {
		return d
	}
	return given[0]
}

func strval(v interface{}) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprintf("%v", v)
	}
}

func quote(str ...interface{}) string {
	out := make([]string, 0, len(str))
	for _, s := range str {
		if s != nil {
			out = append(out, fmt.Sprintf("%q", strval(s)))
		}
	}
	return strings.Join(out, " ")
}

func squote(str ...interface{}) string {
	out := make([]string, 0, len(str))
	for _, s := range str {
		if s != nil {
			out = append(out, fmt.Sprintf("'%v'", s))
		}
	}
	return strings.Join(out, " ")
}

func base64encode(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) }

func base64decode(v string) string {
	data, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

func indent(spaces int, v string) string {
	pad := strings.Repeat(" ", spaces)
	return pad + strings.Replace(v, "\n", "\n"+pad, -1)
}

func nindent(spaces int, v string) string { return "\n" + indent(spaces, v) }

func toJSON(v interface{}) string {
	output, _ := json.Marshal(v)
	return string(output)
}

func required(warn string, val interface{}) (interface{}, error) {
	if val == nil {
		return val, errors.New(warn)
	} else if _, ok := val.(string); ok {
		if val == "" {
			return val, errors.New(warn)
		}
	}
	return val, nil
}

var funcs = template.FuncMap{
	"default":  dfault,
	"quote":    quote,
	"squote":   squote,
	"b64enc":   base64encode,
	"b64dec":   base64decode,
	"indent":   indent,
	"nindent":  nindent,
	"toJson":   toJSON,
	"trim":     strings.TrimSpace,
	"upper":    strings.ToUpper,
	"lower":    strings.ToLower,
	"required": required,
}

// ---- data: JSON with integral numbers as int, others as float64 (as the TypeScript engine reads JS numbers) ----

func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			x[k] = convert(e)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = convert(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func decodeData(raw json.RawMessage) (interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return convert(v), nil
}

// withStringSecrets turns the data's Secrets into a map[string]string.
func withStringSecrets(data interface{}) (interface{}, error) {
	top, ok := data.(map[string]interface{})
	if !ok {
		return nil, errors.New("data is not an object")
	}
	secrets, ok := top["Secrets"].(map[string]interface{})
	if !ok {
		return nil, errors.New("Secrets is not an object")
	}
	typed := make(map[string]string, len(secrets))
	for k, v := range secrets {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("Secrets.%s is not a string", k)
		}
		typed[k] = s
	}
	top["Secrets"] = typed
	return top, nil
}

func run(c testCase, defaultData json.RawMessage) golden {
	g := golden{Name: c.Name, Template: c.Template, Data: c.Data, SecretsType: c.SecretsType, Lenient: c.Lenient}
	option := "missingkey=error"
	if c.Lenient {
		option = "missingkey=zero"
	}
	tmpl, err := template.New("t").Option(option).Funcs(funcs).Parse(c.Template)
	if err != nil {
		msg := err.Error()
		g.Error, g.Phase = &msg, "parse"
		return g
	}
	raw := c.Data
	if len(raw) == 0 {
		raw = defaultData
	}
	data, err := decodeData(raw)
	if err != nil {
		panic(fmt.Sprintf("%s: bad data: %v", c.Name, err))
	}
	switch c.SecretsType {
	case "":
	case "map[string]string":
		if data, err = withStringSecrets(data); err != nil {
			panic(fmt.Sprintf("%s: bad data for map[string]string: %v", c.Name, err))
		}
	default:
		panic(fmt.Sprintf("%s: unknown secretsType %q", c.Name, c.SecretsType))
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		msg := err.Error()
		g.Error, g.Phase = &msg, "execute"
		return g
	}
	s := out.String()
	g.Output = &s
	return g
}

func main() {
	casesPath := flag.String("cases", "cases.json", "input cases")
	outPath := flag.String("out", "golden.json", "where to write the results")
	flag.Parse()
	raw, err := os.ReadFile(*casesPath)
	if err != nil {
		panic(err)
	}
	var file caseFile
	if err := json.Unmarshal(raw, &file); err != nil {
		panic(err)
	}
	cases := file.Cases
	seen := map[string]bool{}
	results := make([]golden, 0, len(cases))
	failed := false
	for _, c := range cases {
		if seen[c.Name] {
			panic("duplicate case name: " + c.Name)
		}
		seen[c.Name] = true
		g := run(c, file.DefaultData)
		if c.Lenient {
			// The deviation's expectation is written by hand; Go under missingkey=zero must agree with it.
			e := c.Expect
			if e == nil || !sameString(e.Output, g.Output) || !sameString(e.Error, g.Error) {
				fmt.Fprintf(os.Stderr, "lenient case %q: expectation differs from Go (missingkey=zero): output=%v error=%v\n", c.Name, deref(g.Output), deref(g.Error))
				failed = true
			}
		}
		results = append(results, g)
	}
	if failed {
		os.Exit(1)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(goldenFile{Go: runtime.Version(), DefaultData: file.DefaultData, Cases: results}); err != nil {
		panic(err)
	}
	if err := os.WriteFile(*outPath, buf.Bytes(), 0o644); err != nil {
		panic(err)
	}
	fmt.Printf("wrote %d cases to %s\n", len(results), *outPath)
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}
