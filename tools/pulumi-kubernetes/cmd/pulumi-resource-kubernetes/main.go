// Command pulumi-resource-kubernetes is the Kubernetes provider plugin, served as upstream's main
// does. Upstream embeds generated files that its module does not ship (schema-embed.json,
// terraform-mapping-embed.json); build.sh copies the module's schema.json and
// terraform-mapping.json beside this file instead, and the schema gets its version here.
package main

import (
	_ "embed"
	"encoding/json"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, versioned(schema, version.Version), terraformMapping)
}

// versioned sets the schema's top-level "version", as upstream's generate.go does at build time.
func versioned(spec []byte, v string) []byte {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(spec, &fields); err != nil {
		panic("embedded schema.json: " + err.Error())
	}
	quoted, _ := json.Marshal(v)
	fields["version"] = quoted
	out, err := json.Marshal(fields)
	if err != nil {
		panic("embedded schema.json: " + err.Error())
	}
	return out
}
