package filter

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// builtinConf holds banfleet's own filters, in Fail2Ban's filter format.
//
//go:embed filter.d/*.conf
var builtinConf embed.FS

// BuiltinConf returns the built-in filters as a Fail2Ban configuration
// directory: filter.d/<name>.conf, each standing alone (no includes).
// config/fail2ban reads them (LoadFilterOr) when the configuration
// directory in use has no filter of that name.
func BuiltinConf() fs.FS { return builtinConf }

// BuiltinNames lists the built-in filters, sorted.
func BuiltinNames() []string {
	ents, err := fs.ReadDir(builtinConf, "filter.d")
	if err != nil {
		panic(fmt.Sprintf("embedded filter.d: %v", err)) // cannot happen: go:embed checked it
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".conf"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// IsBuiltin reports whether name (a filter name without options) is a
// built-in filter.
func IsBuiltin(name string) bool {
	_, err := fs.Stat(builtinConf, "filter.d/"+name+".conf")
	return err == nil && !strings.ContainsAny(name, "/")
}
