// Command go-bench measures Go's text/template on the template and data given as JSON on stdin
// ({"template": "...", "data": {...}, "seconds": 2}) and prints {"executesPerSecond", "parseExecutesPerSecond"}.
// bench/template.bench.ts runs it (go run .) to put Go's figures beside the TypeScript engine's in the same run.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/template"
	"time"
)

type input struct {
	Template string                 `json:"template"`
	Data     map[string]interface{} `json:"data"`
	Seconds  float64                `json:"seconds"`
}

func opsPerSecond(seconds float64, fn func()) float64 {
	warm := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(warm) {
		fn()
	}
	runs := 0
	start := time.Now()
	limit := time.Duration(seconds * float64(time.Second))
	for time.Since(start) < limit {
		for i := 0; i < 64; i++ {
			fn()
		}
		runs += 64
	}
	return float64(runs) / time.Since(start).Seconds()
}

func parse(text string) *template.Template {
	return template.Must(template.New("env").Option("missingkey=error").Parse(text))
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		panic(err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		panic(err)
	}
	if in.Seconds <= 0 {
		in.Seconds = 2
	}
	tmpl := parse(in.Template)
	// Rendering into a buffer, as a service does before it replies.
	var sink []byte
	execute := func() {
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, in.Data); err != nil {
			panic(err)
		}
		sink = buf.Bytes()
	}
	parseExecute := func() {
		var buf bytes.Buffer
		if err := parse(in.Template).Execute(&buf, in.Data); err != nil {
			panic(err)
		}
		sink = buf.Bytes()
	}
	result := map[string]interface{}{
		"go":                     runtime.Version(),
		"executesPerSecond":      opsPerSecond(in.Seconds, execute),
		"parseExecutesPerSecond": opsPerSecond(in.Seconds, parseExecute),
		"outputBytes":            len(sink),
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}
